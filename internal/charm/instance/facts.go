package instance

import (
	"encoding/json"
	"log/slog"
	"strconv"

	"github.com/pgjuju/pgjuju/internal/charm/keys"
	"github.com/pgjuju/pgjuju/internal/juju/model"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// Keys of the unit's own instance.
const (
	// AddressKey (peer unit databag) is the unit's address.
	AddressKey keys.Peer = "address"
	// AppliedKey (unit state) holds the parameters last applied (JSON).
	AppliedKey keys.State = "applied-parameters"
	// Unit state keys remembering effects, so that a steady pass repeats
	// none of them (each is a hook tool call): the port opened, the
	// workload version set, the address published in the peer unit
	// databag.
	OpenedPortKey       keys.State = "opened-port"
	VersionKey          keys.State = "workload-version"
	PublishedAddressKey keys.State = "published-address"
)

// Facts is the instance's part of a snapshot.
type Facts struct {
	Options pgconf.Options
	// Storage is where pgdata is mounted; empty until it is attached.
	Storage string
	// MissingPackages are distro packages still to install.
	MissingPackages []string
	// PGVersion is the installed PostgreSQL major version ("15").
	PGVersion string
	// Catalogue is the installed server's parameter catalogue.
	Catalogue pgconf.Catalogue
	MemBytes  uint64
	// Applied are the PostgreSQL parameters last applied (local ones by
	// name, DCS ones prefixed "dcs:"); empty before the first bootstrap.
	Applied map[string]string
	// ParameterProblem is the server's refusal of an extra_pg_conf value
	// (ParameterError); empty when the values passed, or were not checked
	// because none changed since they were applied (ParametersToCheck).
	ParameterProblem string
	// Locales are the machine's locales (locale -a), read before the
	// first bootstrap only (the locale matters to initdb alone); nil when
	// not read.
	Locales []string
	// OpenedPort is the port this charm last opened (unit state), so a
	// steady pass runs no open-port; 0 before the first.
	OpenedPort int
}

// Bootstrapped says whether this unit has run PostgreSQL.
func (f Facts) Bootstrapped() bool { return len(f.Applied) > 0 }

// ReadState reads what this unit remembers about its instance.
func ReadState(log *slog.Logger, state map[keys.State]string, f *Facts) {
	f.OpenedPort, _ = strconv.Atoi(state[OpenedPortKey])
	if raw := state[AppliedKey]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &f.Applied); err != nil {
			log.Warn("ignoring unreadable applied parameters", "err", err)
		}
	}
}

// OptionsFromConfig reads the options. config-get includes every option
// with a default in config.yaml, so a value there, 0 or "" included, is
// the user's and is validated as such (Options.Complete); an option
// missing (only from a backend that leaves defaults out) keeps its default.
func OptionsFromConfig(cfg *model.Config) pgconf.Options {
	o := pgconf.DefaultOptions()
	str := func(k string, dst *string) {
		if cfg.Has(k) {
			*dst, _ = cfg.String(k)
		}
	}
	num := func(k string, dst *int) {
		if v, ok, _ := cfg.Int(k); ok {
			*dst = v
		}
	}
	str("admin_addresses", &o.AdminAddresses)
	str("client_networks", &o.ClientNetworks)
	str("client_roles", &o.ClientRoles)
	str("admin_applications", &o.AdminApplications)
	if v, ok, _ := cfg.Bool("isolate_databases"); ok {
		o.IsolateDatabases = v
	}
	str("extra_pg_conf", &o.ExtraPgConf)
	str("extra_pg_auth", &o.ExtraPgAuth)
	num("listen_port", &o.ListenPort)
	num("max_connections", &o.MaxConnections)
	str("shared_buffers", &o.SharedBuffers)
	str("locale", &o.Locale)
	str("encoding", &o.Encoding)
	return o
}

// Port is PostgreSQL's port.
func (f Facts) Port() int {
	if f.Options.ListenPort > 0 {
		return f.Options.ListenPort
	}
	return pgconf.DefaultPostgresPort
}
