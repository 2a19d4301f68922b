package charm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgjuju/pgjuju/internal/localjuju/controller"
)

// TestJuju29 runs the charm on a model emulating Juju 2.9, which has no
// secrets (contract §2.2): the system users' passwords live in the peer
// relation's application databag, get-password still answers, and a
// database client gets plain credentials in the databag and connects.
func TestJuju29(t *testing.T) {
	e := newEnvWith(t, controller.Options{AgentVersion: "2.9"})
	const unit = app + "/0"
	if err := e.m.Deploy(controller.DeployArgs{Charm: charmFile, App: app, NumUnits: 1}); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	e.waitStatus(unit, "active", nil)

	res, err := e.m.Exec(context.Background(), controller.ExecArgs{Unit: unit, Commands: "echo $JUJU_VERSION; command -v secret-ids || echo no-secret-tools", RelationID: -1})
	if err != nil || !strings.Contains(string(res.Stdout), "2.9.") || !strings.Contains(string(res.Stdout), "no-secret-tools") {
		t.Fatalf("the model does not emulate 2.9: %q %v", res.Stdout, err)
	}

	if err := e.m.SetAgentVersion("3.6"); err == nil {
		t.Errorf("agent-version changed after a deploy (localjuju has no upgrade-model)")
	}

	password := e.password(unit, "operator")
	peerData := func() map[string]string {
		info, err := e.m.ShowUnit(unit)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range info[unit].RelationInfo {
			if r.Endpoint == "database-peers" {
				return r.ApplicationData
			}
		}
		return nil
	}
	var users map[string]string
	if err := json.Unmarshal([]byte(peerData()["system-users-secret"]), &users); err != nil || users["operator-password"] != password {
		t.Fatalf("the system users are not in the peer app databag (%v)", err)
	}
	if err := e.targetOf(unit).withConn(password, func(context.Context, *pgx.Conn) error { return nil }); err != nil {
		t.Fatalf("connecting as operator: %v", err)
	}

	if err := e.m.Deploy(controller.DeployArgs{Charm: clientCharm, App: "myapp", NumUnits: 1}); err != nil {
		t.Fatalf("deploy client: %v", err)
	}
	if _, err := e.m.Integrate(app+":database", "myapp:database"); err != nil {
		t.Fatalf("integrate: %v", err)
	}
	st := e.waitStatus("myapp/0", "active", func() error {
		if msg := e.unitStatus("myapp/0").WorkloadStatus.Message; !strings.Contains(msg, " ok ") {
			return fmt.Errorf("client says %q", msg)
		}
		return nil
	})
	t.Logf("client: %s", st.WorkloadStatus.Message)
	info, err := e.m.ShowUnit("myapp/0")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range info["myapp/0"].RelationInfo {
		if r.Endpoint == "database" {
			if r.ApplicationData["password"] == "" || r.ApplicationData["secret-user"] != "" {
				t.Errorf("database relation without secrets: want plain credentials, got keys %v", keys(r.ApplicationData))
			}
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
