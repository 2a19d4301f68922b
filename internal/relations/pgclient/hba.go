package pgclient

import (
	"github.com/pgjuju/pgjuju/internal/clientdb"
	"github.com/pgjuju/pgjuju/internal/pgconf"
)

// HBARules returns the pg_hba rules the relation needs: the relation user,
// from each related unit's subnets (clientdb.ClientUnits over the remote
// units' databags), to the requested database, scram-sha-256.
func HBARules(req Request, units []clientdb.ClientUnit) []pgconf.HBARule {
	return clientdb.HBARules(req.Database, req.User, clientdb.Subnets(units))
}
