package localjuju_test

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// baseHookVars are the variables §1.4 exports for every hook, action and
// juju-exec command on a machine without model proxy settings.
var baseHookVars = []string{
	"CHARM_DIR", "JUJU_CHARM_DIR", "JUJU_CONTEXT_ID", "JUJU_HOOK_NAME",
	"JUJU_AGENT_SOCKET_ADDRESS", "JUJU_AGENT_SOCKET_NETWORK", "JUJU_UNIT_NAME",
	"JUJU_MODEL_UUID", "JUJU_MODEL_NAME", "JUJU_API_ADDRESSES", "JUJU_SLA",
	"JUJU_MACHINE_ID", "JUJU_PRINCIPAL_UNIT", "JUJU_AVAILABILITY_ZONE",
	"CLOUD_API_VERSION", "JUJU_VERSION", "JUJU_CHARM_HTTP_PROXY",
	"JUJU_CHARM_HTTPS_PROXY", "JUJU_CHARM_FTP_PROXY", "JUJU_CHARM_NO_PROXY",
	"APT_LISTCHANGES_FRONTEND", "DEBIAN_FRONTEND", "LANG", "TERM", "PATH",
}

// bashVars are exported by bash itself (the recorder and juju-exec's
// script run under bash), not by the agent.
var bashVars = []string{"PWD", "SHLVL", "_"}

var (
	relationVars = []string{"JUJU_RELATION", "JUJU_RELATION_ID", "JUJU_REMOTE_UNIT", "JUJU_REMOTE_APP"}
	actionVars   = []string{"JUJU_ACTION_NAME", "JUJU_ACTION_UUID", "JUJU_ACTION_TAG"}
	storageVars  = []string{"JUJU_STORAGE_ID", "JUJU_STORAGE_LOCATION", "JUJU_STORAGE_KIND"}
	secretVars   = []string{"JUJU_SECRET_ID", "JUJU_SECRET_LABEL"}
)

// checkEnvKeys asserts the environment holds exactly base + extra (+ bash's
// own) variables: nothing inherited from the test process (§1.4).
func checkEnvKeys(t *testing.T, what string, got map[string]string, dispatch bool, extra ...[]string) {
	t.Helper()
	want := map[string]bool{}
	for _, k := range baseHookVars {
		want[k] = true
	}
	for _, k := range bashVars {
		want[k] = true
	}
	if dispatch {
		want["JUJU_DISPATCH_PATH"] = true
	}
	for _, ks := range extra {
		for _, k := range ks {
			want[k] = true
		}
	}
	var missing, unexpected []string
	for k := range want {
		if _, ok := got[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] {
			unexpected = append(unexpected, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(unexpected)
	if len(missing) > 0 || len(unexpected) > 0 {
		t.Errorf("§1.4 %s environment: missing %v, unexpected %v", what, missing, unexpected)
	}
	if _, ok := got[markerVar]; ok {
		t.Errorf("§1.4 %s: %s inherited from the test process", what, markerVar)
	}
}

var hex32 = `[0-9a-f]{32}`

// checkCommonValues checks the values §1.4 fixes for every context.
func checkCommonValues(t *testing.T, e *env, what, unit, ctxName string, got map[string]string) {
	t.Helper()
	re := regexp.MustCompile("^" + regexp.QuoteMeta(unit+"-"+ctxName+"-") + hex32 + "$")
	if !re.MatchString(got["JUJU_CONTEXT_ID"]) {
		t.Errorf("§1.4 %s: JUJU_CONTEXT_ID %q, want %s-%s-<32 hex>", what, got["JUJU_CONTEXT_ID"], unit, ctxName)
	}
	want := map[string]string{
		"JUJU_UNIT_NAME":            unit,
		"JUJU_MODEL_UUID":           e.m.UUID(),
		"JUJU_VERSION":              "3.6.25",
		"JUJU_AGENT_SOCKET_NETWORK": "unix",
		"JUJU_PRINCIPAL_UNIT":       "",
		"APT_LISTCHANGES_FRONTEND":  "none",
		"DEBIAN_FRONTEND":           "noninteractive",
		"LANG":                      "C.UTF-8",
		"TERM":                      "tmux-256color",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("§1.4 %s: %s=%q, want %q", what, k, got[k], v)
		}
	}
	if got["JUJU_MODEL_NAME"] == "" {
		t.Errorf("§1.4 %s: JUJU_MODEL_NAME empty", what)
	}
	if got["JUJU_MACHINE_ID"] != e.m.Status().Applications[strings.Split(unit, "/")[0]].Units[unit].Machine {
		t.Errorf("§1.4 %s: JUJU_MACHINE_ID=%q, status says machine %q", what, got["JUJU_MACHINE_ID"], e.m.Status().Applications[strings.Split(unit, "/")[0]].Units[unit].Machine)
	}
	cd := got["CHARM_DIR"]
	if cd == "" || cd != got["JUJU_CHARM_DIR"] || !strings.HasSuffix(cd, "/agents/"+tag(unit)+"/charm") {
		t.Errorf("§1.4 %s: CHARM_DIR=%q JUJU_CHARM_DIR=%q", what, cd, got["JUJU_CHARM_DIR"])
	}
	if got["PWD"] != cd {
		t.Errorf("§1.2 %s: cwd %q, want $CHARM_DIR %q", what, got["PWD"], cd)
	}
	if _, err := os.Stat(filepath.Join(cd, "metadata.yaml")); err != nil {
		t.Errorf("§1.1 %s: no metadata.yaml in CHARM_DIR: %v", what, err)
	}
	first, _, _ := strings.Cut(got["PATH"], ":")
	if fi, err := os.Lstat(filepath.Join(first, "relation-get")); err != nil || fi.Mode()&os.ModeSymlink == 0 && fi.Mode()&0o111 == 0 {
		t.Errorf("§1.7 %s: first PATH entry %q holds no relation-get tool (%v)", what, first, err)
	}
	if !strings.HasSuffix(first, "/"+tag(unit)) {
		t.Errorf("§1.7 %s: first PATH entry %q is not the unit's tools dir", what, first)
	}
	sock := got["JUJU_AGENT_SOCKET_ADDRESS"]
	if fi, err := os.Stat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("§1.4 %s: JUJU_AGENT_SOCKET_ADDRESS %q is not a socket (%v)", what, sock, err)
	}
}
