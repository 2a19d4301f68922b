// Package api holds the wire types of localjuju's three unix-socket
// protocols and their clients:
//
//   - the hook-tool protocol (agent.socket, per unit): Jujuc.Main, as Juju's
//     jujuc speaks it (contract §1.7);
//   - the juju-exec protocol (run.socket, per unit): JujuExecServer.RunCommands
//     (contract §5.3);
//   - the CLI protocol (controller.sock, per model): Controller.* methods.
//
// All three are net/rpc with gob encoding, like Juju's own agent sockets.
package api
