package main

import (
	"fmt"
	"io"
	"os"

	"github.com/pgjuju/pgjuju/internal/localjuju/api"
)

// hookToolMain is the client side of a hook tool (contract §1.7): one call
// to the unit agent's socket with the hook's context id; the reply's output
// is written out and its code becomes the exit status.
func hookToolMain(name string, args []string) int {
	ctxID := os.Getenv("JUJU_CONTEXT_ID")
	socket := os.Getenv("JUJU_AGENT_SOCKET_ADDRESS")
	if socket == "" || os.Getenv("JUJU_AGENT_SOCKET_NETWORK") != "unix" && os.Getenv("JUJU_AGENT_SOCKET_NETWORK") != "" {
		fmt.Fprintln(os.Stderr, "ERROR JUJU_AGENT_SOCKET_ADDRESS not set")
		return 1
	}
	dir, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ERROR %v\n", err)
		return 1
	}
	req := api.ToolRequest{ContextID: ctxID, Dir: dir, CommandName: name, Args: args}
	resp, err := api.CallTool(socket, req, func() ([]byte, error) { return io.ReadAll(os.Stdin) })
	if err != nil {
		fmt.Fprintf(os.Stderr, "ERROR %v\n", err)
		return 1
	}
	os.Stdout.Write(resp.Stdout)
	os.Stderr.Write(resp.Stderr)
	return resp.Code
}
