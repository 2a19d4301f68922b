package api

import (
	"fmt"
	"net/rpc"
	"strings"
)

// CallTool sends a hook tool request to an agent socket, resending with
// stdin when the agent asks for it.
func CallTool(socket string, req ToolRequest, stdin func() ([]byte, error)) (ToolResponse, error) {
	c, err := rpc.Dial("unix", socket)
	if err != nil {
		return ToolResponse{}, err
	}
	defer c.Close()
	var resp ToolResponse
	err = c.Call("Jujuc.Main", req, &resp)
	if err != nil && strings.Contains(err.Error(), ErrNoStdin) && !req.StdinSet {
		data, rerr := stdin()
		if rerr != nil {
			return ToolResponse{}, fmt.Errorf("reading stdin: %w", rerr)
		}
		req.Stdin, req.StdinSet = data, true
		resp = ToolResponse{}
		err = c.Call("Jujuc.Main", req, &resp)
	}
	return resp, err
}

// RunCommands sends a juju-exec request to a unit's run socket.
func RunCommands(socket string, args RunCommandsArgs) (ToolResponse, error) {
	c, err := rpc.Dial("unix", socket)
	if err != nil {
		return ToolResponse{}, err
	}
	defer c.Close()
	var resp ToolResponse
	err = c.Call("JujuExecServer.RunCommands", args, &resp)
	return resp, err
}
