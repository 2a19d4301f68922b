package api

// ToolRequest is one hook tool invocation (Juju's jujuc.Request).
type ToolRequest struct {
	ContextID   string
	Dir         string
	CommandName string
	Args        []string
	StdinSet    bool
	Stdin       []byte
	Token       string
}

// ToolResponse is a hook tool's result (Juju's exec.ExecResponse).
type ToolResponse struct {
	Code   int
	Stdout []byte
	Stderr []byte
}

// ErrNoStdin is the RPC error text that asks the client to resend with its
// standard input (contract §1.7).
const ErrNoStdin = "hook tool requires stdin, none supplied"

// RunCommandsArgs is a juju-exec request (contract §5.3).
type RunCommandsArgs struct {
	Commands        string
	RelationID      int // -1 when none
	RemoteUnitName  string
	RemoteApp       string
	ForceRemoteUnit bool
	UnitName        string
}
