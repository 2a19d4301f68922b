//go:build linux

package netns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bridge is the name of the bridge in every model namespace.
const Bridge = "br0"

// MachineInterface is the name of the machine side of a machine's veth pair.
const MachineInterface = "eth0"

// hostOffset is added to the subnet's base address to get machine 0's address.
const hostOffset = 10

// adminTimeout bounds every ip(8) invocation.
const adminTimeout = 30 * time.Second

// Network is one model's network: a namespace holding bridge Bridge.
type Network struct {
	Name   string       // the model namespace's name; machine namespaces are Name+"-m<id>"
	Subnet netip.Prefix // IPv4 subnet shared by the machines (masked)
	Bridge string       // bridge in the model namespace ("br0")
}

// CreateNetwork creates the model namespace name with lo and bridge br0 up,
// or completes a partly created one. It is idempotent.
func CreateNetwork(name string, subnet netip.Prefix) (*Network, error) {
	n, err := newNetwork(name, subnet)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	if err := ensureNamespace(ctx, name); err != nil {
		return nil, err
	}
	links, err := listLinks(ctx, name)
	if err != nil {
		return nil, err
	}
	if _, ok := links[Bridge]; !ok {
		if err := ipCmd(ctx, "-n", name, "link", "add", Bridge, "type", "bridge"); err != nil {
			return nil, err
		}
	}
	if err := ipCmd(ctx, "-n", name, "link", "set", "lo", "up"); err != nil {
		return nil, err
	}
	if err := ipCmd(ctx, "-n", name, "link", "set", Bridge, "up"); err != nil {
		return nil, err
	}
	return n, nil
}

// OpenNetwork returns the Network for an existing model namespace (after a
// controller restart, say) without checking or changing anything.
func OpenNetwork(name string, subnet netip.Prefix) *Network {
	return &Network{Name: name, Subnet: subnet.Masked(), Bridge: Bridge}
}

func newNetwork(name string, subnet netip.Prefix) (*Network, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if !subnet.IsValid() || !subnet.Addr().Is4() || subnet.Bits() > 29 {
		return nil, fmt.Errorf("netns: subnet %v: need an IPv4 prefix of /29 or shorter", subnet)
	}
	return OpenNetwork(name, subnet), nil
}

func checkName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("netns: bad namespace name %q: need 1 to 64 characters", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("netns: bad namespace name %q: only [A-Za-z0-9._-] allowed", name)
		}
	}
	if name == "." || name == ".." {
		return fmt.Errorf("netns: bad namespace name %q", name)
	}
	return nil
}

func (n *Network) machineNS(id int) string { return n.Name + "-m" + strconv.Itoa(id) }
func (n *Network) machinePrefix() string   { return n.Name + "-m" }
func modelInterface(id int) string         { return "vm" + strconv.Itoa(id) }
func (n *Network) machineAddr(id int) (netip.Prefix, error) {
	if id < 0 {
		return netip.Prefix{}, fmt.Errorf("netns: bad machine id %d", id)
	}
	base := n.Subnet.Masked().Addr().As4()
	v := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	size := uint64(1) << (32 - n.Subnet.Bits())
	off := uint64(hostOffset) + uint64(id)
	if off >= size-1 { // last address is the broadcast address
		return netip.Prefix{}, fmt.Errorf("netns: machine id %d does not fit in %v", id, n.Subnet)
	}
	v += uint32(off)
	a := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	return netip.PrefixFrom(a, n.Subnet.Bits()), nil
}

// AddMachine creates machine id's namespace, joined to the bridge by a veth
// pair, with address subnet base+10+id on eth0, and lo up. It is idempotent
// and completes a partly created machine.
func (n *Network) AddMachine(id int) (*Machine, error) {
	pfx, err := n.machineAddr(id)
	if err != nil {
		return nil, err
	}
	addMu.Lock()
	defer addMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	if ok, err := isNamespace(n.Name); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("netns: model namespace %s does not exist", n.Name)
	}
	mns := n.machineNS(id)
	if err := ensureNamespace(ctx, mns); err != nil {
		return nil, err
	}
	vm := modelInterface(id)
	modelLinks, err := listLinks(ctx, n.Name)
	if err != nil {
		return nil, err
	}
	machineLinks, err := listLinks(ctx, mns)
	if err != nil {
		return nil, err
	}
	_, haveVM := modelLinks[vm]
	_, haveEth := machineLinks[MachineInterface]
	if haveVM != haveEth {
		// Half a pair cannot exist; a same-named link of another kind can.
		return nil, fmt.Errorf("netns: machine %d: found %s=%v in %s but %s=%v in %s; destroy the machine first",
			id, vm, haveVM, n.Name, MachineInterface, haveEth, mns)
	}
	if !haveVM {
		// Created in the model namespace with its peer placed straight into
		// the machine namespace: nothing ever appears on the host.
		if err := ipCmd(ctx, "-n", n.Name, "link", "add", vm, "type", "veth",
			"peer", "name", MachineInterface, "netns", mns); err != nil {
			// Another process may have created the pair meanwhile.
			ml, lerr := listLinks(ctx, mns)
			if _, ok := ml[MachineInterface]; lerr != nil || !ok {
				return nil, err
			}
		}
	}
	steps := [][]string{
		{"-n", n.Name, "link", "set", vm, "master", Bridge},
		{"-n", n.Name, "link", "set", vm, "up"},
		{"-n", mns, "link", "set", "lo", "up"},
		{"-n", mns, "addr", "replace", pfx.String(), "dev", MachineInterface},
		{"-n", mns, "link", "set", MachineInterface, "up"},
	}
	for _, s := range steps {
		if err := ipCmd(ctx, s...); err != nil {
			return nil, err
		}
	}
	m := n.machine(id, pfx)
	links, err := listLinks(ctx, mns)
	if err != nil {
		return nil, err
	}
	m.MAC = links[MachineInterface].Address
	return m, nil
}

// Machine returns machine id of an existing network without changing
// anything. MAC is filled in if the machine exists.
func (n *Network) Machine(id int) *Machine {
	pfx, err := n.machineAddr(id)
	if err != nil {
		pfx = netip.Prefix{}
	}
	m := n.machine(id, pfx)
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	if ok, _ := isNamespace(m.Namespace); ok {
		if links, err := listLinks(ctx, m.Namespace); err == nil {
			m.MAC = links[MachineInterface].Address
		}
	}
	return m
}

func (n *Network) machine(id int, pfx netip.Prefix) *Machine {
	return &Machine{
		ID:             id,
		Namespace:      n.machineNS(id),
		Addr:           pfx.Addr(),
		Prefix:         pfx,
		Interface:      MachineInterface,
		ModelInterface: modelInterface(id),
		network:        n,
	}
}

// Machines returns the ids of the machine namespaces that exist for n.
func (n *Network) Machines() ([]int, error) {
	names, err := List(n.machinePrefix())
	if err != nil {
		return nil, err
	}
	var ids []int
	for _, name := range names {
		if id, err := strconv.Atoi(strings.TrimPrefix(name, n.machinePrefix())); err == nil && id >= 0 && n.machineNS(id) == name {
			ids = append(ids, id)
		}
	}
	sort.Ints(ids)
	return ids, nil
}

// Destroy kills every process in, and deletes, every namespace named
// Name+"-m*" and then the model namespace. It is idempotent.
func (n *Network) Destroy(ctx context.Context) error {
	names, err := List(n.machinePrefix())
	if err != nil {
		return err
	}
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if id, aerr := strconv.Atoi(strings.TrimPrefix(name, n.machinePrefix())); aerr == nil && id >= 0 && n.machineNS(id) == name {
				err = n.machine(id, netip.Prefix{}).Destroy(ctx)
			} else {
				err = destroyNamespace(ctx, name)
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return destroyNamespace(ctx, n.Name)
}

// destroyNamespace kills every process in namespace name and deletes it.
func destroyNamespace(ctx context.Context, name string) error {
	ok, err := nsExists(name)
	if err != nil || !ok {
		return err
	}
	if isNS, _ := isNamespace(name); isNS {
		if err := killAll(ctx, nsPath(name)); err != nil {
			return err
		}
	}
	return deleteNamespace(ctx, name)
}

func deleteNamespace(ctx context.Context, name string) error {
	if ok, err := nsExists(name); err != nil || !ok {
		return err
	}
	if err := ipCmd(ctx, "netns", "delete", name); err != nil {
		if ok, _ := nsExists(name); ok {
			return err
		}
	}
	return nil
}

// List returns the names of the network namespaces in /run/netns that start
// with prefix, sorted.
func List(prefix string) ([]string, error) {
	ents, err := os.ReadDir(nsRunDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("netns: %w", err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// nsExists reports whether /run/netns/name exists at all.
func nsExists(name string) (bool, error) {
	_, err := os.Lstat(nsPath(name))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

const nsfsMagic = 0x6e736673

// isNamespace reports whether /run/netns/name is a mounted namespace.
func isNamespace(name string) (bool, error) {
	var st syscall.Statfs_t
	err := syscall.Statfs(nsPath(name), &st)
	if errors.Is(err, syscall.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("netns: statfs %s: %w", nsPath(name), err)
	}
	return st.Type == nsfsMagic, nil
}

var (
	createMu sync.Mutex // serialises namespace creation in this process
	addMu    sync.Mutex // serialises AddMachine in this process
)

// ensureNamespace creates namespace name unless it exists. A leftover plain
// file (after a crash or a reboot with a persistent /run) is replaced.
func ensureNamespace(ctx context.Context, name string) error {
	createMu.Lock()
	defer createMu.Unlock()
	if ok, err := isNamespace(name); err != nil || ok {
		return err
	}
	if ok, _ := nsExists(name); ok {
		if err := os.Remove(nsPath(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("netns: remove stale %s: %w", nsPath(name), err)
		}
	}
	if err := ipCmd(ctx, "netns", "add", name); err != nil {
		// Another process may have won the race.
		if ok, _ := isNamespace(name); ok {
			return nil
		}
		return err
	}
	return nil
}

type linkInfo struct {
	Name     string   `json:"ifname"`
	Address  string   `json:"address"`
	Flags    []string `json:"flags"`
	Master   string   `json:"master"`
	Operstat string   `json:"operstate"`
}

// listLinks returns the links of namespace ns by name.
func listLinks(ctx context.Context, ns string) (map[string]linkInfo, error) {
	out, err := ipOutput(ctx, "-n", ns, "-j", "link", "show")
	if err != nil {
		return nil, err
	}
	var links []linkInfo
	if err := json.Unmarshal(out, &links); err != nil {
		return nil, fmt.Errorf("netns: parse ip -j link show output: %w", err)
	}
	m := make(map[string]linkInfo, len(links))
	for _, l := range links {
		m[l.Name] = l
	}
	return m, nil
}

var ipPath = sync.OnceValue(func() string {
	if p, err := exec.LookPath("ip"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "/usr/sbin/ip"
})

func ipCmd(ctx context.Context, args ...string) error {
	_, err := ipOutput(ctx, args...)
	return err
}

func ipOutput(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, ipPath(), args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("netns: ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
