package main

import "testing"

func TestPgsqlTarget(t *testing.T) {
	ready := map[string]string{
		"database": "app", "allowed-units": "app/0 app/1", "allowed-subnets": "10.0.0.5/32,10.0.0.6/32",
		"host": "10.0.0.1", "port": "5432", "user": "u", "password": "p", "state": "standalone",
		"roles": "a,b", "extensions": "citext",
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for kk, vv := range ready {
			m[kk] = vv
		}
		m[k] = v
		return m
	}
	req := PgsqlRequest{Roles: "a,b", Extensions: "citext"}
	cases := []struct {
		name   string
		remote map[string]map[string]string
		ok     bool
	}{
		{"a standalone unit with everything published is the target", map[string]map[string]string{"pg/0": ready}, true},
		{"not yet in allowed-units", map[string]map[string]string{"pg/0": with("allowed-units", "app/1")}, false},
		{"allowed-units split on whitespace, not commas", map[string]map[string]string{"pg/0": with("allowed-units", "app/0,app/1")}, false},
		{"another database", map[string]map[string]string{"pg/0": with("database", "other")}, false},
		{"roles echo reordered", map[string]map[string]string{"pg/0": with("roles", "b,a")}, false},
		{"extensions not echoed", map[string]map[string]string{"pg/0": with("extensions", "")}, false},
		{"own subnet missing from allowed-subnets", map[string]map[string]string{"pg/0": with("allowed-subnets", "10.0.0.6/32")}, false},
		{"hot standby only", map[string]map[string]string{"pg/0": with("state", "hot standby")}, false},
		{"master plus a standby", map[string]map[string]string{"pg/0": with("state", "master"), "pg/1": with("state", "hot standby")}, true},
		{"two masters", map[string]map[string]string{"pg/0": with("state", "master"), "pg/1": with("state", "master")}, false},
		{"no password yet", map[string]map[string]string{"pg/0": with("password", "")}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := PgsqlTarget(PgsqlView{Unit: "app/0", App: "app", EgressSubnets: []string{"10.0.0.5/32"}, Request: req, Remote: c.remote})
			if got.Ready() != c.ok {
				t.Errorf("ready = %v (%q), want %v", got.Ready(), got.WaitingFor, c.ok)
			}
		})
	}
}

func TestClientTarget(t *testing.T) {
	cases := []struct {
		name string
		v    ClientView
		ok   bool
	}{
		{"plain fields", ClientView{App: map[string]string{"database": "d", "endpoints": "10.0.0.1:5432", "username": "u", "password": "p"}}, true},
		{"secret read", ClientView{App: map[string]string{"database": "d", "endpoints": "10.0.0.1:5432", "secret-user": "secret://x/y"},
			UserSecret: map[string]string{"username": "u", "password": "p"}}, true},
		{"secret not readable", ClientView{App: map[string]string{"database": "d", "endpoints": "10.0.0.1:5432", "secret-user": "secret://x/y"}}, false},
		{"username without password", ClientView{App: map[string]string{"database": "d", "endpoints": "10.0.0.1:5432", "username": "u"}}, false},
		{"no endpoints", ClientView{App: map[string]string{"database": "d", "username": "u", "password": "p"}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ClientTarget(c.v); got.Ready() != c.ok {
				t.Errorf("ready = %v (%q), want %v", got.Ready(), got.WaitingFor, c.ok)
			}
		})
	}
}
