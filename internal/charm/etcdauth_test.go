package charm

import (
	"context"
	"strings"
	"testing"

	"github.com/pgjuju/pgjuju/internal/charm/credentials"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/jujutest"
)

// TestUntrustedEtcdBlocks (issue 9, item 8): when the leader's etcd auth
// set-up finds users it did not make, or a root password it does not
// hold, the unit is Blocked with what was found, the hook succeeds, and
// Patroni is not started on that etcd; once the operator has cleared
// etcd, the next hook proceeds.
func TestUntrustedEtcdBlocks(t *testing.T) {
	h, st := newBareHarness(t, "3.6.25")
	st.Relations = []jujutest.Relation{{ID: 0, Endpoint: PeerEndpoint, RemoteApp: "postgresql"}}
	st.Secrets = []jujutest.Secret{{Label: credentials.SecretLabel, Content: map[string]string{
		"operator-password": "o", "replication-password": "r", "rewind-password": "w", "patroni-password": "p", "etcd-password": "e"}}}
	h.wl.etcdFound = "etcd has users besides root before authentication is enabled: intruder"
	out, err := h.ch.Run(context.Background(), h.d, st, h.ch.Hook("install"))
	if err != nil {
		t.Fatalf("install failed instead of blocking: %v", err)
	}
	if out.UnitStatus.Level != juju.StatusBlocked || !strings.Contains(out.UnitStatus.Message, "intruder") {
		t.Errorf("status %v, want blocked naming intruder", out.UnitStatus)
	}
	if h.wl.patroniStarts != 0 {
		t.Errorf("Patroni started %d times on an untrusted etcd", h.wl.patroniStarts)
	}
	h.wl.etcdFound = ""
	out = h.run(out, h.ch.Hook("update-status"))
	if out.UnitStatus.Level == juju.StatusBlocked || h.wl.patroniStarts == 0 {
		t.Errorf("after etcd was cleared: status %v, Patroni starts %d", out.UnitStatus, h.wl.patroniStarts)
	}
}
