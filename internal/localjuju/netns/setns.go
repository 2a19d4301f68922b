//go:build linux

package netns

import (
	"fmt"
	"runtime"
	"syscall"
)

const nsRunDir = "/run/netns"

func nsPath(name string) string { return nsRunDir + "/" + name }

func setns(fd int) error {
	_, _, errno := syscall.RawSyscall(sysSetns, uintptr(fd), syscall.CLONE_NEWNET, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// inNamespace runs fn on an OS thread that has been switched into the network
// namespace at path (a /run/netns file), then switches the thread back.
//
// fn runs on a fresh goroutine locked to its thread, so the caller's thread is
// never touched and concurrent calls each get a thread of their own. If the
// thread cannot be switched back, the goroutine exits still locked and the
// runtime destroys the thread rather than reusing it. Threads the runtime
// creates meanwhile come from its template thread, not from this one.
//
// fn must not start goroutines that create sockets or processes: only this
// thread is in the namespace.
func inNamespace(path string, fn func() error) error {
	target, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("netns: open %s: %w", path, err)
	}
	defer syscall.Close(target)

	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := syscall.Open("/proc/thread-self/ns/net", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netns: open current namespace: %w", err)
			return
		}
		defer syscall.Close(orig)
		if err := setns(target); err != nil {
			// Setns failed, so the thread is unchanged.
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netns: setns %s: %w", path, err)
			return
		}
		ferr := fn()
		if err := setns(orig); err != nil {
			// Leave the thread locked: it is discarded when this goroutine
			// returns. fn's result stands (a started process runs fine).
			errc <- ferr
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
