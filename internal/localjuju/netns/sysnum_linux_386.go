//go:build linux

package netns

// sysSetns is setns(2); package syscall does not define SYS_SETNS on 386.
const sysSetns = 346
