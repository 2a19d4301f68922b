package clientdb

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/pgjuju/pgjuju/internal/postgres"
)

// Want is what serving one relation establishes in the shared catalogs, as
// Drifted sees it: the charm's ClientServe without what lives inside the
// client's database (extensions, schema public grants).
type Want struct {
	// ID is the relation id ("db:5"), only echoed back as Drifted's key.
	ID   string
	User string
	// Password is compared with the stored SCRAM verifier
	// (postgres.VerifierMatches); it is never sent to the server.
	Password string
	Database string
	// Attributes are on, the others of CREATEDB, CREATEROLE and SUPERUSER
	// off (EnsureAttributes).
	Attributes []Attribute
	// CreateRoles must exist (EnsureRole); Roles are User's memberships
	// (GrantRoles).
	CreateRoles []string
	Roles       []string
	// Admin: User is a member of AdminRole, which is a member of
	// pg_read_all_data and pg_write_all_data (EnsureAdminMembership).
	Admin bool
}

// adminGroups are the roles EnsureAdminMembership makes AdminRole a member of.
var adminGroups = []string{"pg_read_all_data", "pg_write_all_data"}

// databasePrivileges are what EnsureDatabaseAccess grants on a database.
var databasePrivileges = []string{"CONNECT", "CREATE", "TEMPORARY"}

// Drifted tells which relations no longer have what serving them
// established, so only those are served again. It reads the shared
// catalogs in two queries whatever len(wants) is: pg_authid with
// pg_auth_members (the login user with LOGIN, its password and exact
// attributes; the group roles; the memberships, AdminRole's included), and
// pg_database with its ACL (the database exists; the user's explicit
// CONNECT, CREATE and TEMPORARY, as EnsureDatabaseAccess reads them).
//
// The result maps the id of each drifted relation to why, every reason
// found joined with "; " (`user "x" has no LOGIN; "x" lacks CONNECT on
// "d"`); relations that match are absent. A relation whose names the
// Ensure* functions would refuse is reported with the name error, its
// names never sent, so serving it reports that error.
//
// Not checked, because it lives in each client database and cannot be read
// in one round: USAGE and CREATE on schema public and the extensions. Those
// are ensured whenever a relation's request changes. Nor is whether a
// granted role is still grantable (GrantRoles' check, which refuses but
// never revokes): a membership that exists is not drift.
//
// Catalogs, functions and operators are named with pg_catalog and names
// go in as array parameters: it runs as superuser, possibly connected to a
// database clients can create objects in.
func Drifted(ctx context.Context, q Querier, wants []Want) (map[string]string, error) {
	drifted := map[string]string{}
	report := func(id string, why []string) {
		if len(why) == 0 {
			return
		}
		if prev, ok := drifted[id]; ok {
			why = append([]string{prev}, why...)
		}
		drifted[id] = strings.Join(why, "; ")
	}
	var valid []Want
	for _, w := range wants {
		if err := w.check(); err != nil {
			report(w.ID, []string{err.Error()})
			continue
		}
		valid = append(valid, w)
	}
	if len(valid) == 0 {
		return drifted, nil
	}
	roleNames, users, databases := catalogNames(valid)
	roles, err := readRoles(ctx, q, roleNames, users)
	if err != nil {
		return nil, err
	}
	dbs, err := readDatabases(ctx, q, databases, users)
	if err != nil {
		return nil, err
	}
	for _, w := range valid {
		report(w.ID, w.drift(roles, dbs))
	}
	return drifted, nil
}

// check applies the name checks the Ensure* functions Serve calls apply.
func (w Want) check() error {
	if err := CheckName(KindRole, w.User); err != nil {
		return err
	}
	if err := CheckClientDatabase(w.Database, true); err != nil {
		return err
	}
	for _, r := range w.CreateRoles {
		if err := CheckClientRole(r); err != nil {
			return err
		}
	}
	for _, r := range w.Roles {
		if err := CheckName(KindRole, r); err != nil {
			return err
		}
	}
	return nil
}

// catalogNames returns, sorted and without repeats, the roles, the login
// users and the databases wants name.
func catalogNames(wants []Want) (roles, users, databases []string) {
	for _, w := range wants {
		users = append(users, w.User)
		databases = append(databases, w.Database)
		roles = append(roles, w.CreateRoles...)
		roles = append(roles, w.Roles...)
		if w.Admin {
			roles = append(roles, AdminRole)
			roles = append(roles, adminGroups...)
		}
	}
	roles = append(roles, users...)
	for _, s := range []*[]string{&roles, &users, &databases} {
		slices.Sort(*s)
		*s = slices.Compact(*s)
	}
	return roles, users, databases
}

// roleState is one role as Drifted reads it.
type roleState struct {
	login    bool
	attrs    map[Attribute]bool
	verifier *string // read for login users only
	memberOf []string
}

// readRoles reads the roles named (those missing are absent from the
// result), with the stored verifier of the users among them and the roles
// each is a direct member of.
func readRoles(ctx context.Context, q Querier, names, users []string) (map[string]*roleState, error) {
	rows, err := q.Query(ctx, `SELECT a.rolname, a.rolcanlogin, a.rolcreatedb, a.rolcreaterole, a.rolsuper,
		CASE WHEN a.rolname OPERATOR(pg_catalog.=) ANY($2::text[]) THEN a.rolpassword END,
		ARRAY(SELECT g.rolname FROM pg_catalog.pg_auth_members m
			JOIN pg_catalog.pg_authid g ON g.oid OPERATOR(pg_catalog.=) m.roleid
			WHERE m.member OPERATOR(pg_catalog.=) a.oid)::text[]
		FROM pg_catalog.pg_authid a WHERE a.rolname OPERATOR(pg_catalog.=) ANY($1::text[])`, names, users)
	if err != nil {
		return nil, fmt.Errorf("reading roles: %w", err)
	}
	defer rows.Close()
	roles := map[string]*roleState{}
	for rows.Next() {
		var name string
		var createdb, createrole, super bool
		r := &roleState{}
		if err := rows.Scan(&name, &r.login, &createdb, &createrole, &super, &r.verifier, &r.memberOf); err != nil {
			return nil, fmt.Errorf("reading roles: %w", err)
		}
		r.attrs = map[Attribute]bool{AttrCreateDB: createdb, AttrCreateRole: createrole, AttrSuperuser: super}
		roles[name] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading roles: %w", err)
	}
	return roles, nil
}

// readDatabases reads the databases named (those missing are absent from
// the result) with, for each, the users among users that hold explicit
// CONNECT, CREATE or TEMPORARY on it and which of them.
func readDatabases(ctx context.Context, q Querier, names, users []string) (map[string]map[string][]string, error) {
	rows, err := q.Query(ctx, `SELECT d.datname, p.rolname, p.privileges
		FROM pg_catalog.pg_database d LEFT JOIN LATERAL (
			SELECT r.rolname, pg_catalog.array_agg(DISTINCT a.privilege_type)::text[] AS privileges
			FROM pg_catalog.aclexplode(d.datacl) a JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.grantee
			WHERE r.rolname OPERATOR(pg_catalog.=) ANY($2::text[])
				AND a.privilege_type OPERATOR(pg_catalog.=) ANY($3::text[])
			GROUP BY r.rolname) p ON true
		WHERE d.datname OPERATOR(pg_catalog.=) ANY($1::text[])`, names, users, databasePrivileges)
	if err != nil {
		return nil, fmt.Errorf("reading databases: %w", err)
	}
	defer rows.Close()
	dbs := map[string]map[string][]string{}
	for rows.Next() {
		var db string
		var user *string
		var privileges []string
		if err := rows.Scan(&db, &user, &privileges); err != nil {
			return nil, fmt.Errorf("reading databases: %w", err)
		}
		if dbs[db] == nil {
			dbs[db] = map[string][]string{}
		}
		if user != nil {
			dbs[db][*user] = privileges
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading databases: %w", err)
	}
	return dbs, nil
}

// drift returns why the catalogs read do not match w, in Serve's order;
// none if they do.
func (w Want) drift(roles map[string]*roleState, dbs map[string]map[string][]string) []string {
	var why []string
	user := roles[w.User]
	why = append(why, w.userDrift(user)...)
	grants, dbExists := dbs[w.Database]
	switch {
	case !dbExists:
		why = append(why, "database "+Display(w.Database)+" is missing")
	case user != nil:
		if lack := missing(databasePrivileges, grants[w.User]); len(lack) > 0 {
			why = append(why, Display(w.User)+" lacks "+strings.Join(lack, ", ")+" on "+Display(w.Database))
		}
	}
	for _, r := range w.CreateRoles {
		if roles[r] == nil {
			why = append(why, "role "+Display(r)+" is missing")
		}
	}
	if user == nil {
		return why
	}
	for _, r := range w.Roles {
		if !slices.Contains(w.CreateRoles, r) && roles[r] == nil {
			why = append(why, "role "+Display(r)+" is missing")
		} else if !slices.Contains(user.memberOf, r) {
			why = append(why, Display(w.User)+" is not a member of "+Display(r))
		}
	}
	if w.Admin {
		why = append(why, adminDrift(w.User, roles)...)
	}
	return why
}

// userDrift returns why the login user (nil: missing) is not as
// EnsureLoginUser and EnsureAttributes leave it.
func (w Want) userDrift(user *roleState) []string {
	name := "user " + Display(w.User)
	if user == nil {
		return []string{name + " is missing"}
	}
	var why []string
	if !user.login {
		why = append(why, name+" has no LOGIN")
	}
	switch {
	case user.verifier == nil:
		why = append(why, name+" has no password")
	case !postgres.VerifierMatches(*user.verifier, w.Password):
		why = append(why, name+" has another password")
	}
	for _, a := range allAttributes {
		want := slices.Contains(w.Attributes, a.attr)
		switch {
		case want && !user.attrs[a.attr]:
			why = append(why, name+" lacks "+string(a.attr))
		case !want && user.attrs[a.attr]:
			why = append(why, name+" has "+string(a.attr))
		}
	}
	return why
}

// adminDrift returns why user's admin membership is not as
// EnsureAdminMembership leaves it.
func adminDrift(user string, roles map[string]*roleState) []string {
	admin := roles[AdminRole]
	if admin == nil {
		return []string{"role " + Display(AdminRole) + " is missing"}
	}
	var why []string
	for _, g := range adminGroups {
		if !slices.Contains(admin.memberOf, g) {
			why = append(why, Display(AdminRole)+" is not a member of "+Display(g))
		}
	}
	if !slices.Contains(roles[user].memberOf, AdminRole) {
		why = append(why, Display(user)+" is not a member of "+Display(AdminRole))
	}
	return why
}

// missing returns the elements of want not in have, in want's order.
func missing(want, have []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			out = append(out, w)
		}
	}
	return out
}
