//go:build linux

package netns

// sysSetns is setns(2); package syscall does not define SYS_SETNS on amd64.
const sysSetns = 308
