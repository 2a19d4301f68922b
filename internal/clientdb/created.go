package clientdb

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Roles an admin relation created (issue 9 item 5).
//
// A relation user given CREATEROLE or SUPERUSER can make roles of its own,
// and PostgreSQL 15 keeps no record of which role created another (16
// adds an automatic membership; 15 has nothing). So the charm keeps one:
// before it first gives a relation user either attribute, it records the
// OIDs of every role that exists (a Baseline, in a superuser-owned table
// of the postgres database, so it is replicated and survives a failover).
// When the relation is broken, or its application leaves
// admin_applications, the roles that appeared since are the candidates;
// DecideCreatedRoles keeps from them everything the relation cannot be
// shown to have made, and the rest are dropped after their objects are
// given to the relation user (REASSIGN OWNED, DROP OWNED for privileges,
// in every database where they have any).
//
// Why the relation user inherits the objects, not the database owner:
// the databases are owned by the charm's operator, a superuser. A view or
// SECURITY DEFINER function a client made and the charm then gave to a
// superuser would run with the superuser's rights for whoever may call
// it. The relation user (never dropped, NOLOGIN once revoked) is what the
// client had anyway.
//
// Trust: on PostgreSQL 15 a CREATEROLE role may grant itself any
// non-superuser role, pg_execute_server_program and pg_write_all_data
// included, so an admin application is trusted about as far as a
// superuser: this cleanup tidies up after a client that leaves, it cannot
// contain a hostile one. What it guarantees is that it never does more
// than the client could have done itself: it never drops a role that
// existed before the relation could create roles, a built-in or system
// role, a role under the charm's names, a role the operator lists in
// client_roles, a privileged role (SUPERUSER, REPLICATION, BYPASSRLS)
// when the relation could not have made one, or a role another admin
// relation may have made; and it never gives a superuser anything.

// firstNormalOID is FirstNormalObjectId: OIDs below it are the roles
// initdb made (the bootstrap superuser, the pg_ roles).
const firstNormalOID = 16384

// Baseline is what was recorded when a relation user was first given
// CREATEROLE or SUPERUSER.
type Baseline struct {
	Relation string // "database:7"
	User     string // its relation user
	// Superuser: the relation user was given SUPERUSER at some point
	// since (it could then create privileged roles too).
	Superuser bool
	// Roles are the OIDs of the roles that existed then.
	Roles map[uint32]bool
}

// ServerRole is a role as the cleanup sees it.
type ServerRole struct {
	OID  uint32
	Name string
	// Privileged: SUPERUSER, REPLICATION or BYPASSRLS, which a CREATEROLE
	// role cannot give.
	Privileged bool
	// ClientGroup: marked with ClientGroupComment.
	ClientGroup bool
	// Armed: it can log in or has any attribute (CREATEDB, CREATEROLE
	// or a privileged one).
	Armed bool
}

// CreatedRolesInput is what DecideCreatedRoles reads.
type CreatedRolesInput struct {
	// Relation is the relation whose roles go.
	Relation string
	// Baselines are every recorded baseline, Relation's included.
	Baselines []Baseline
	// Roles are the server's roles now.
	Roles []ServerRole
	// Keep are roles the operator lets clients hold (client_roles):
	// operator's roles, never dropped.
	Keep []string
	// Live are the users of the other relations the charm serves: never
	// touched.
	Live []string
}

// LeftRole is a role that appeared since the baseline and is not dropped.
type LeftRole struct {
	Name string
	Why  string
	// Ambiguous: another admin relation may have made it.
	Ambiguous bool
	// Disarmed: it bears a name or mark of the charm's, serves no
	// relation and can log in or has attributes, which the charm's own
	// such roles (revoked relation users, group roles) never have: it
	// loses them.
	Disarmed bool
}

// CreatedRolesPlan is what DecideCreatedRoles decided.
type CreatedRolesPlan struct {
	// Tracked: Relation has a baseline; without one nothing is done.
	Tracked bool
	// Owner is the role the dropped roles' objects go to: the relation
	// user.
	Owner string
	// Drop are the roles to drop, by name order.
	Drop []ServerRole
	// Disarm are the Left roles marked Disarmed.
	Disarm []ServerRole
	// Left are the roles that appeared since the baseline and stay, each
	// with why.
	Left []LeftRole
}

// DecideCreatedRoles decides which roles that appeared since Relation's
// baseline it made and may drop. It is pure. A role is left when:
//
//   - it is built in (an OID initdb assigns, or the pg_ prefix) or the
//     relation user itself;
//   - it is the user of another relation the charm serves (Live);
//   - it bears a name of the charm's: a system user's, or the relation_ or
//     charmed_ prefix (a revoked relation's user, charmed_admin), or the
//     mark of a group role the charm made for `roles`. A client able to
//     create roles can squat such a name or forge the mark, so those
//     with a prefix or mark are also disarmed (Disarm: no LOGIN, no
//     attributes, which the charm's own never have): a squatter stays,
//     reported, but cannot log in or create roles;
//   - the operator lists it in client_roles;
//   - it is SUPERUSER, REPLICATION or BYPASSRLS and the relation user was
//     never a superuser: CREATEROLE cannot make such a role, so someone
//     else did;
//   - another admin relation's baseline does not hold it: that relation
//     could create roles when it appeared, so it cannot be attributed.
//     Such a role stays for good (its creator's own cleanup leaves it
//     too while this relation's baseline exists) and is reported.
func DecideCreatedRoles(in CreatedRolesInput) CreatedRolesPlan {
	var p CreatedRolesPlan
	i := slices.IndexFunc(in.Baselines, func(b Baseline) bool { return b.Relation == in.Relation })
	if i < 0 {
		return p
	}
	own := in.Baselines[i]
	p.Tracked, p.Owner = true, own.User
	ownerExists := slices.ContainsFunc(in.Roles, func(r ServerRole) bool { return r.Name == own.User })
	roles := slices.Clone(in.Roles)
	sort.Slice(roles, func(a, b int) bool { return roles[a].Name < roles[b].Name })
	for _, r := range roles {
		if own.Roles[r.OID] || r.OID < firstNormalOID || strings.HasPrefix(r.Name, "pg_") || r.Name == own.User {
			continue
		}
		if slices.Contains(in.Live, r.Name) {
			continue // another relation's user, served now
		}
		why, kind := whyLeft(in, own, r)
		if why == "" && !ownerExists {
			why = "the relation user " + own.User + " is gone: nothing to give its objects to"
		}
		if why != "" {
			disarm := kind == leftCharmName && r.Armed
			p.Left = append(p.Left, LeftRole{Name: r.Name, Why: why, Ambiguous: kind == leftAmbiguous, Disarmed: disarm})
			if disarm {
				p.Disarm = append(p.Disarm, r)
			}
			continue
		}
		p.Drop = append(p.Drop, r)
	}
	return p
}

// leftKind says why a role is left.
type leftKind int

const (
	leftOther     leftKind = iota
	leftCharmName          // a name or mark of the charm's: disarmed
	leftAmbiguous          // another admin relation may have made it
)

// whyLeft is "" when r, which appeared since own's baseline, is own's to
// drop, else why not and of which kind.
func whyLeft(in CreatedRolesInput, own Baseline, r ServerRole) (string, leftKind) {
	lower := strings.ToLower(r.Name)
	switch {
	case slices.Contains(reservedRoleNames, lower):
		return "is a name the charm's system users use", leftOther
	case strings.HasPrefix(lower, RelationUserPrefix), strings.HasPrefix(lower, charmedPrefix):
		return "has a prefix of the charm's roles (relation_, charmed_) but serves no relation", leftCharmName
	case r.ClientGroup:
		return "is marked as a group role the charm made for `roles`", leftCharmName
	case slices.Contains(in.Keep, r.Name):
		return "is in client_roles", leftOther
	case r.Privileged && !own.Superuser:
		return "is SUPERUSER, REPLICATION or BYPASSRLS, which " + own.Relation + " (CREATEROLE) could not make", leftOther
	}
	var others []string
	for _, b := range in.Baselines {
		if b.Relation != own.Relation && !b.Roles[r.OID] {
			others = append(others, b.Relation)
		}
	}
	if len(others) > 0 {
		return fmt.Sprintf("appeared while %s could create roles too", strings.Join(others, ", ")), leftAmbiguous
	}
	return "", leftOther
}
