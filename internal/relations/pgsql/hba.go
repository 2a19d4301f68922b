package pgsql

import (
	"github.com/pgjuju/pgjuju/internal/clientdb"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// HBARules returns the pg_hba rules the relation needs: the relation user,
// from each client unit's subnets, to the requested database (every
// database on db-admin), scram-sha-256. The charm passes the union over
// all client relations to pgconf.RenderHBARules; it takes every related
// unit here (not only those already allowed: being in pg_hba is what makes
// a unit allowed).
func HBARules(req Request, units []ClientUnit) []pgconf.HBARule {
	db := req.Database
	if req.Admin() {
		db = clientdb.AllDatabases
	}
	return clientdb.HBARules(db, req.User, clientdb.Subnets(units))
}
