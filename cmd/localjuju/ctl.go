package main

import (
	"context"
	"errors"
	"fmt"
	"net/rpc"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
	"github.com/pgjuju/pgjuju/internal/service"
)

// home is the model directory: $LOCALJUJU_HOME or ~/.local/share/localjuju.
func home() string {
	if h := os.Getenv("LOCALJUJU_HOME"); h != "" {
		abs, err := filepath.Abs(h)
		if err == nil {
			return abs
		}
		return h
	}
	u, err := os.UserHomeDir()
	if err != nil {
		u = "/root"
	}
	return filepath.Join(u, ".local", "share", "localjuju")
}

// call invokes a controller method, starting the controller when needed.
func call(method string, args, reply any) error {
	c, err := dialController(true)
	if err != nil {
		return err
	}
	defer c.Close()
	err = c.Call("Controller."+method, args, reply)
	var se rpc.ServerError
	if errors.As(err, &se) {
		return errors.New(string(se))
	}
	return err
}

func dialController(start bool) (*rpc.Client, error) {
	sock := controller.SocketPath(home())
	if c, err := rpc.Dial("unix", sock); err == nil {
		return c, nil
	}
	if !start {
		return nil, errors.New("no controller is running")
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("localjuju needs root: machines are network namespaces, as Juju's machine agents run as root")
	}
	if err := startController(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := rpc.Dial("unix", sock)
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) {
			logTail, _ := os.ReadFile(filepath.Join(home(), "controller.log"))
			return nil, fmt.Errorf("controller did not start: %v\n%s", err, strings.Join(service.LastLines(string(logTail), 10), "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startController launches `localjuju controller` detached, logging to
// <home>/controller.log.
func startController() error {
	h := home()
	if err := os.MkdirAll(h, 0o700); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(h, "controller.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(exe, "controller")
	cmd.Env = append(os.Environ(), "LOCALJUJU_HOME="+h)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting controller: %w", err)
	}
	fmt.Fprintf(os.Stderr, "started localjuju controller (pid %d, home %s)\n", cmd.Process.Pid, h)
	return cmd.Process.Release()
}

// controllerMain is the controller process: it owns the model until
// destroyed or signalled.
func controllerMain(args []string) error {
	h := home()
	logf := func(format string, a ...any) {
		fmt.Printf("%s %s\n", time.Now().Format(time.RFC3339), fmt.Sprintf(format, a...))
	}
	m, err := controller.Open(controller.Options{Home: h, Logf: logf})
	if err != nil {
		return err
	}
	srv, err := controller.Serve(m)
	if err != nil {
		m.Close()
		return err
	}
	if err := os.WriteFile(filepath.Join(h, "controller.pid"), []byte(fmt.Sprint(os.Getpid())), 0o600); err != nil {
		logf("writing pid file: %v", err)
	}
	logf("controller serving model %s on %s", m.UUID(), controller.SocketPath(h))
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-srv.Shutdown:
		logf("model destroyed")
		srv.Close()
		return nil
	case s := <-sigs:
		logf("signal %v: stopping agents (machines keep running)", s)
		srv.Close()
		return m.Close()
	}
}

// cmdDestroy destroys the model through its controller, or directly from
// the persisted state when no controller runs.
func cmdDestroy(args []string) error {
	if len(args) > 0 && args[0] != "--no-prompt" && args[0] != "-y" {
		return usagef("usage: localjuju destroy")
	}
	h := home()
	if _, err := os.Stat(filepath.Join(h, "model.json")); err != nil {
		if c, derr := dialController(false); derr == nil {
			c.Close()
		} else {
			fmt.Fprintln(os.Stderr, "no model to destroy")
			return nil
		}
	}
	if c, err := dialController(false); err == nil {
		defer c.Close()
		fmt.Fprintln(os.Stderr, "destroying model...")
		if err := c.Call("Controller.Destroy", controller.Empty{}, &controller.Empty{}); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "model destroyed")
		return nil
	}
	if os.Geteuid() != 0 {
		return errors.New("localjuju needs root: machines are network namespaces, as Juju's machine agents run as root")
	}
	m, err := controller.Open(controller.Options{Home: h, NoAgents: true})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := m.Destroy(ctx); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "model destroyed")
	return nil
}
