// Package keys types the names the charm keeps in Juju, so a unit-state
// key cannot be written to a databag by mistake, nor the other way round.
// Each slice declares its own keys, with these types, in its own package;
// only the peer endpoint, which every slice reads, is declared here.
package keys
