// Package cron parses the five-field cron lines of config backup_schedule
// (minute hour day-of-month month day-of-week, with *, lists, ranges and
// steps, as crontab(5) has them; day names and month names too) and finds
// a schedule's next time. It is pure: the caller passes the times.
package cron
