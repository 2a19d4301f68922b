package keys

// State is a key of the unit's state (state-get, state-set): what this
// unit remembers between hooks, seen by nobody else.
type State string

// Peer is a key of a peer relation databag (the unit's or the
// application's): what this unit or the leader tells the other units.
type Peer string

// PeerEndpoint is the peer relation of the application's units.
const PeerEndpoint = "database-peers"

// Strings turns typed changes into what the hook tools take.
func Strings[K ~string](m map[K]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[string(k)] = v
	}
	return out
}

// Typed turns what the hook tools return into typed keys.
func Typed[K ~string](m map[string]string) map[K]string {
	out := make(map[K]string, len(m))
	for k, v := range m {
		out[K(k)] = v
	}
	return out
}
