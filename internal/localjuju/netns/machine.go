//go:build linux

package netns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"syscall"
)

// Machine is one machine of a Network: a namespace whose eth0 is joined to the
// model's bridge.
type Machine struct {
	ID             int
	Namespace      string       // "<network>-m<id>"
	Addr           netip.Addr   // address of eth0
	Prefix         netip.Prefix // Addr with the subnet's length, e.g. 10.200.7.13/24
	Interface      string       // "eth0"
	ModelInterface string       // model side of the veth pair, "vm<id>"
	MAC            string       // of eth0; empty if unknown

	network *Network
}

// path returns the machine namespace's /run/netns file.
func (m *Machine) path() string { return nsPath(m.Namespace) }

// Start starts cmd with its network namespace set to the machine's; see
// exec.Cmd.Start. Everything else (mount namespace, users, PID namespace) is
// the caller's. Safe for concurrent use.
func (m *Machine) Start(cmd *exec.Cmd) error {
	return inNamespace(m.path(), cmd.Start)
}

// Run is Start followed by cmd.Wait.
func (m *Machine) Run(cmd *exec.Cmd) error {
	if err := m.Start(cmd); err != nil {
		return err
	}
	return cmd.Wait()
}

// Dial connects to address from inside the machine: the socket belongs to the
// machine's namespace, so the peer sees the machine's address. The connection
// may be used from any goroutine. address must hold a literal IP (or
// "localhost", meaning 127.0.0.1) for IP networks.
func (m *Machine) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	address, err := literalAddress(network, address)
	if err != nil {
		return nil, err
	}
	var c net.Conn
	err = inNamespace(m.path(), func() error {
		// No happy-eyeballs racing: every socket is made on this thread.
		d := net.Dialer{FallbackDelay: -1}
		var err error
		c, err = d.DialContext(ctx, network, address)
		return err
	})
	return c, err
}

// Listen listens on address inside the machine (see net.Listen). address
// must hold a literal IP (or "localhost") for IP networks.
func (m *Machine) Listen(network, address string) (net.Listener, error) {
	address, err := literalAddress(network, address)
	if err != nil {
		return nil, err
	}
	var l net.Listener
	err = inNamespace(m.path(), func() error {
		var err error
		l, err = net.Listen(network, address)
		return err
	})
	return l, err
}

// ListenPacket is Listen for packet networks (see net.ListenPacket).
func (m *Machine) ListenPacket(network, address string) (net.PacketConn, error) {
	address, err := literalAddress(network, address)
	if err != nil {
		return nil, err
	}
	var c net.PacketConn
	err = inNamespace(m.path(), func() error {
		var err error
		c, err = net.ListenPacket(network, address)
		return err
	})
	return c, err
}

func literalAddress(network, address string) (string, error) {
	switch network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
	default:
		return address, nil // unix sockets and the like: no resolution
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return "", fmt.Errorf("netns: address %q: %w", address, err)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" {
		return "", fmt.Errorf("netns: address %q: need a literal IP address", address)
	}
	return net.JoinHostPort(ip.String(), port), nil
}

// Pids returns every process whose network namespace is the machine's (the
// calling process excepted). It returns no error if the namespace is gone.
func (m *Machine) Pids() ([]int, error) { return nsPids(m.path()) }

// Signal sends sig to every process of the machine. Processes that exit
// meanwhile are ignored.
func (m *Machine) Signal(sig syscall.Signal) error {
	pids, err := m.Pids()
	if err != nil {
		return err
	}
	return signalPids(m.path(), pids, sig)
}

// Kill sends SIGKILL to every process of the machine once; KillAll also
// waits until they are gone.
func (m *Machine) Kill() error { return m.Signal(syscall.SIGKILL) }

// Freeze stops every process of the machine with SIGSTOP, repeating until
// no process appears that was not signalled (a process forking meanwhile).
func (m *Machine) Freeze() error { return signalUntilStable(m.path(), syscall.SIGSTOP) }

// Thaw resumes every process of the machine with SIGCONT.
func (m *Machine) Thaw() error { return signalUntilStable(m.path(), syscall.SIGCONT) }

// KillAll sends SIGKILL to the machine's processes until none remains and
// every killed process is gone from /proc (see the package caveats). Without
// a deadline on ctx it gives up after DefaultKillTimeout.
func (m *Machine) KillAll(ctx context.Context) error { return killAll(ctx, m.path()) }

// Cut takes the model side of the machine's veth pair down: the machine is
// partitioned from every other machine, its processes keep running and its
// own addresses stay configured.
func (m *Machine) Cut() error { return m.setModelLink("down") }

// Restore undoes Cut.
func (m *Machine) Restore() error { return m.setModelLink("up") }

func (m *Machine) setModelLink(state string) error {
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	return ipCmd(ctx, "-n", m.network.Name, "link", "set", m.ModelInterface, state)
}

// Destroy kills every process of the machine, deletes its veth pair and its
// namespace. It is idempotent.
func (m *Machine) Destroy(ctx context.Context) error {
	if ok, err := isNamespace(m.Namespace); err != nil {
		return err
	} else if ok {
		if err := m.KillAll(ctx); err != nil {
			return err
		}
	}
	// Delete the pair explicitly: the namespace itself lives on while
	// sockets opened in it are still open, and its eth0 with it.
	if ok, _ := isNamespace(m.network.Name); ok {
		actx, cancel := context.WithTimeout(ctx, adminTimeout)
		defer cancel()
		links, err := listLinks(actx, m.network.Name)
		if err != nil {
			return err
		}
		if _, ok := links[m.ModelInterface]; ok {
			if err := ipCmd(actx, "-n", m.network.Name, "link", "delete", m.ModelInterface); err != nil {
				// A concurrent destroy of this machine (or of its
				// namespace, which takes the pair with it) may have
				// deleted it since the listing: gone is what we want.
				if ok, _ := isNamespace(m.network.Name); ok {
					links, lerr := listLinks(actx, m.network.Name)
					if _, still := links[m.ModelInterface]; lerr != nil || still {
						return err
					}
				}
			}
		}
	}
	return deleteNamespace(ctx, m.Namespace)
}
