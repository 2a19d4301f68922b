// Package netns gives each localjuju model and machine a network stack of its
// own (DESIGN.md §6), using Linux network namespaces.
//
// # Layout
//
// A model network named N (callers use a short prefix such as "lj-<8 hex>";
// namespace names are global on the host) is:
//
//   - the model namespace "N" (/run/netns/N), holding only "lo" and a bridge
//     "br0", both up. The bridge has no address and no interface to the outside
//     world: it only switches frames between machines.
//   - per machine id, a namespace "N-m<id>" holding "lo" (up, so 127.0.0.1
//     works inside) and "eth0" with address subnet.base+10+id (for
//     10.200.7.0/24 machine 3 is 10.200.7.13/24). eth0 is one end of a veth
//     pair; the other end, "vm<id>", lives in the model namespace and is
//     attached to br0. All machines of a model share one subnet; there is no
//     default route.
//
// Nothing is ever created in the host's own namespace: every link is created
// inside the model namespace with its peer placed directly in the machine
// namespace (ip -n N link add vm<id> type veth peer name eth0 netns N-m<id>),
// so no address, bridge, route or veth end ever appears on the host, even
// transiently. Administrative changes use /usr/sbin/ip; Start, Dial and Listen
// switch a locked OS thread into the machine namespace with setns(2) instead,
// for speed.
//
// # API
//
//	CreateNetwork(name, subnet) (*Network, error)   // idempotent
//	OpenNetwork(name, subnet) *Network              // existing network, no checks
//	(*Network).AddMachine(id) (*Machine, error)     // idempotent
//	(*Network).Machine(id) *Machine                 // existing machine, no checks
//	(*Network).Machines() ([]int, error)            // ids of existing machine namespaces
//	(*Network).Destroy(ctx) error                   // every "N-m*" namespace, then N
//	List(prefix) ([]string, error)                  // namespaces on the host with a prefix
//
//	(*Machine).Start(cmd) / Run(cmd)                // exec.Cmd inside the machine's netns
//	(*Machine).Dial(ctx, network, address)          // connection made from inside the machine
//	(*Machine).Listen(network, address)             // listener inside the machine
//	(*Machine).Pids() ([]int, error)                // processes whose netns is the machine's
//	(*Machine).Signal(sig) / Kill() / Freeze() / Thaw()
//	(*Machine).KillAll(ctx)                         // SIGKILL until none remains
//	(*Machine).Cut() / Restore()                    // model-side veth down / up
//	(*Machine).Destroy(ctx)                         // KillAll, delete veth and namespace
//
// Start runs only the fork in the machine namespace: the child shares the
// host's mount namespace, filesystem, users and PID namespace, like a machine
// built from the same image. Dial and Listen accept literal IP addresses only
// ("localhost" means 127.0.0.1): name resolution would run on other
// goroutines, in the host namespace.
//
// A machine's processes are the processes whose /proc/<pid>/ns/net is the
// machine's namespace (device and inode compared with /run/netns/<ns>). The
// calling process itself is never included, even while one of its threads is
// inside the namespace, nor is any process with a thread outside the namespace
// (another process using this package whose main thread is visiting). Before
// each signal the pid's namespace is checked again, against pid reuse, so
// processes only ever get signals from this package while they are in a
// namespace it manages.
//
// # Caveats
//
//   - Sockets hold a reference to their namespace. Destroy deletes the veth
//     pair and the /run/netns entry, so the machine is gone from the model's
//     point of view at once, but the kernel frees the namespace object only
//     after every socket opened in it (by Dial or Listen) is closed.
//   - A killed process counts as gone when /proc/<pid> has disappeared, or
//     when it is a zombie whose parent is the calling process (only the caller
//     can reap it, through exec.Cmd.Wait). Other zombies are reaped by their
//     parent or, for orphans, by the host's init, which on the test machines
//     runs only about every 2 s: KillAll polls until then.
//   - Cut takes the model side of the veth down: the machine keeps its
//     address, its processes keep running, packets to and from it are dropped
//     (connection attempts time out or fail with "no route to host" once ARP
//     gives up; established connections stall and resume after Restore if TCP
//     has not given up by then).
package netns
