package instance

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/service"
)

// TestDaemonUsers: etcd runs as its own user and Patroni as postgres, under
// the charm's supervisor (Spec.User) and under systemd (User=, Group=);
// every daemon's config and log live where the layout puts them.
func TestDaemonUsers(t *testing.T) {
	cfg := pgconf.UnitConfig{Unit: "postgresql/0", Address: netip.MustParseAddr("10.0.0.1"),
		Layout: pgconf.DefaultLayout("0123456789ab", "postgresql/0", "/srv/pgdata")}
	for spec, user := range map[*service.Spec]string{ptr(etcdSpec(cfg)): "etcd", ptr(patroniSpec(cfg, []string{"/charm/dispatch", "launch-patroni"})): "postgres"} {
		if spec.User != user {
			t.Errorf("%s runs as %q, want %s", spec.Name, spec.User, user)
		}
		unit, err := service.RenderUnit(*spec)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(unit, "\nUser="+user+"\n") || !strings.Contains(unit, "\nGroup="+user+"\n") {
			t.Errorf("systemd unit of %s:\n%s", spec.Name, unit)
		}
		if !strings.HasPrefix(spec.LogFile, cfg.Layout.LogDir+"/") {
			t.Errorf("%s logs to %s", spec.Name, spec.LogFile)
		}
	}
	// Patroni starts through the launcher, which becomes postgres itself:
	// systemd runs it with full privileges (+), and it is told the user.
	launched := patroniSpec(cfg, []string{"/charm/dispatch", "launch-patroni"})
	unit, err := service.RenderUnit(launched)
	if err != nil {
		t.Fatal(err)
	}
	if want := `ExecStart=+"/charm/dispatch" "launch-patroni" "postgres" "/usr/bin/patroni" "` + cfg.Layout.PatroniConfigPath() + `"`; !strings.Contains(unit, want+"\n") || !launched.SwitchesUser {
		t.Errorf("launched Patroni's unit, want %s:\n%s", want, unit)
	}
	if direct := patroniSpec(cfg, nil); direct.SwitchesUser || direct.Exec[0] != "/usr/bin/patroni" {
		t.Errorf("Patroni without a launcher: %+v", direct)
	}
	if e := etcdSpec(cfg).Exec; e[len(e)-1] != cfg.Layout.EtcdConfigPath() {
		t.Errorf("etcd reads %v", e)
	}
}

func ptr[T any](v T) *T { return &v }
