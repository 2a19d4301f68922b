package clients

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgjuju/pgjuju/internal/clientdb"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

func TestRefusesRelation(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("x: %w", clientdb.ErrRoleNotGrantable), true},
		{fmt.Errorf("x: %w", clientdb.ErrNoSuchRole), true},
		{&clientdb.NameError{Kind: clientdb.KindRole, Value: "x", Reason: "bad"}, true},
		{fmt.Errorf("creating extension: %w", &pgconn.PgError{Code: "58P01", Message: "could not access file"}), true},
		{fmt.Errorf("creating extension: %w", &pgconn.PgError{Code: "0A000", Message: "not supported"}), true},
		{&pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}, false},
		{&pgconn.PgError{Code: "53300", Message: "too many connections"}, false},
		{errors.New("dial tcp: connection refused"), false},
		{nil, false},
	} {
		if got := refusesRelation(c.err); got != c.want {
			t.Errorf("refusesRelation(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestClientHBAGateUnknownReplica(t *testing.T) {
	u := Unit{Name: "pg/0", Address: netip.MustParseAddr("10.0.0.10"),
		Peers: []pgconf.Member{{Unit: "pg/1", Address: netip.MustParseAddr("10.0.0.11")}}}
	f := Facts{Server: &ServerFacts{Primary: "10.0.0.10", SelfPrimary: true, Replicas: []string{"10.0.0.11", "10.0.0.12"}},
		PeerHBA: map[string]string{"pg/1": "h"}}
	if g := gate(u, f, "h"); !g.Legacy || g.Database {
		t.Errorf("a replica no unit claims must close the database gate: %+v", g)
	}
	f.Server.Replicas = []string{"10.0.0.11"}
	if g := gate(u, f, "h"); !g.Legacy || !g.Database {
		t.Errorf("every member admits: %+v", g)
	}
}
