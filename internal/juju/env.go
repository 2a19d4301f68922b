package juju

import (
	"os"
	"strconv"
	"strings"
)

// Env is the hook environment Juju exports (contract §1.4). Empty fields
// were unset or empty; Juju exports some variables empty on purpose (for
// example JUJU_REMOTE_UNIT in -relation-broken).
type Env struct {
	UnitName      string // JUJU_UNIT_NAME, "postgresql/0"
	ModelName     string // JUJU_MODEL_NAME
	ModelUUID     string // JUJU_MODEL_UUID
	Version       string // JUJU_VERSION, "3.6.25"
	CharmDir      string // JUJU_CHARM_DIR (or CHARM_DIR)
	ContextID     string // JUJU_CONTEXT_ID
	DispatchPath  string // JUJU_DISPATCH_PATH, "hooks/install", "actions/restart"; unset for juju-exec
	HookName      string // JUJU_HOOK_NAME; empty for actions and juju-exec
	MachineID     string // JUJU_MACHINE_ID
	PrincipalUnit string // JUJU_PRINCIPAL_UNIT

	Relation      string // JUJU_RELATION, the endpoint
	RelationID    string // JUJU_RELATION_ID, "database:7"
	RemoteUnit    string // JUJU_REMOTE_UNIT
	RemoteApp     string // JUJU_REMOTE_APP
	DepartingUnit string // JUJU_DEPARTING_UNIT

	ActionName string // JUJU_ACTION_NAME
	ActionUUID string // JUJU_ACTION_UUID

	StorageID       string // JUJU_STORAGE_ID, "pgdata/0"
	StorageLocation string // JUJU_STORAGE_LOCATION
	StorageKind     string // JUJU_STORAGE_KIND, filesystem or block

	SecretID       string // JUJU_SECRET_ID
	SecretLabel    string // JUJU_SECRET_LABEL
	SecretRevision string // JUJU_SECRET_REVISION

	TargetBase string // JUJU_TARGET_BASE (pre-series-upgrade)
}

// LoadEnv reads the process environment.
func LoadEnv() Env { return EnvFrom(os.Getenv) }

// EnvFromList reads an environment in os.Environ form.
func EnvFromList(environ []string) Env {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return EnvFrom(func(k string) string { return m[k] })
}

// EnvFrom reads an environment through getenv.
func EnvFrom(getenv func(string) string) Env {
	e := Env{
		UnitName:        getenv("JUJU_UNIT_NAME"),
		ModelName:       getenv("JUJU_MODEL_NAME"),
		ModelUUID:       getenv("JUJU_MODEL_UUID"),
		Version:         getenv("JUJU_VERSION"),
		CharmDir:        getenv("JUJU_CHARM_DIR"),
		ContextID:       getenv("JUJU_CONTEXT_ID"),
		DispatchPath:    getenv("JUJU_DISPATCH_PATH"),
		HookName:        getenv("JUJU_HOOK_NAME"),
		MachineID:       getenv("JUJU_MACHINE_ID"),
		PrincipalUnit:   getenv("JUJU_PRINCIPAL_UNIT"),
		Relation:        getenv("JUJU_RELATION"),
		RelationID:      getenv("JUJU_RELATION_ID"),
		RemoteUnit:      getenv("JUJU_REMOTE_UNIT"),
		RemoteApp:       getenv("JUJU_REMOTE_APP"),
		DepartingUnit:   getenv("JUJU_DEPARTING_UNIT"),
		ActionName:      getenv("JUJU_ACTION_NAME"),
		ActionUUID:      getenv("JUJU_ACTION_UUID"),
		StorageID:       getenv("JUJU_STORAGE_ID"),
		StorageLocation: getenv("JUJU_STORAGE_LOCATION"),
		StorageKind:     getenv("JUJU_STORAGE_KIND"),
		SecretID:        getenv("JUJU_SECRET_ID"),
		SecretLabel:     getenv("JUJU_SECRET_LABEL"),
		SecretRevision:  getenv("JUJU_SECRET_REVISION"),
		TargetBase:      getenv("JUJU_TARGET_BASE"),
	}
	if e.CharmDir == "" {
		e.CharmDir = getenv("CHARM_DIR")
	}
	return e
}

// AppName is the application part of UnitName ("postgresql").
func (e Env) AppName() string { return AppOf(e.UnitName) }

// AppOf returns the application of a unit name ("pg-client/0" → "pg-client");
// an application name is returned as it is.
func AppOf(unit string) string {
	app, _, _ := strings.Cut(unit, "/")
	return app
}

// HasSecrets reports whether a Juju of this version (JUJU_VERSION) has
// secrets: 3.0.3 and later (contract §2.3). An empty or unreadable
// version is taken as a current Juju.
func HasSecrets(version string) bool {
	parts := strings.SplitN(version, ".", 4)
	if len(parts) < 3 {
		return true
	}
	nums := make([]int, 3)
	for i := range nums {
		// "3.0-beta1.1": a pre-release counts as its release.
		digits := strings.TrimRightFunc(parts[i], func(r rune) bool { return r < '0' || r > '9' })
		if j := strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' }); j >= 0 {
			digits = digits[:j]
		}
		n, err := strconv.Atoi(digits)
		if err != nil {
			return true
		}
		nums[i] = n
	}
	return nums[0] > 3 || (nums[0] == 3 && (nums[1] > 0 || nums[2] >= 3))
}
