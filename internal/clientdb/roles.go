package clientdb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgjuju/pgjuju/internal/postgres"
)

// Querier is a superuser connection (or transaction); see postgres.Querier.
type Querier = postgres.Querier

// Attribute is a privileged role attribute a relation user may be given:
// by extra-user-roles on database, or SUPERUSER on db-admin. LOGIN is not
// one: every relation user has it until revoked.
type Attribute string

// Attributes relation users may hold.
const (
	AttrCreateDB   Attribute = "CREATEDB"
	AttrCreateRole Attribute = "CREATEROLE"
	AttrSuperuser  Attribute = "SUPERUSER"
)

// allAttributes are the attributes EnsureAttributes sets exactly, with
// their pg_roles columns.
var allAttributes = []struct {
	attr   Attribute
	column string
}{
	{AttrCreateDB, "rolcreatedb"},
	{AttrCreateRole, "rolcreaterole"},
	{AttrSuperuser, "rolsuper"},
}

// AdminRole is the group role behind extra-user-roles "admin": read and
// write access to every database (pg_read_all_data, pg_write_all_data).
// The Charmhub charm calls it admin, charmed_admin from PostgreSQL 16 on;
// the charmed_ prefix keeps clients from creating it through `roles`.
const AdminRole = "charmed_admin"

// Errors of the role effects.
var (
	// ErrNoSuchRole: the role does not exist (GrantRoles, RotatePassword).
	ErrNoSuchRole = errors.New("no such role")
	// ErrRoleNotGrantable: granting the role would give a client more
	// than its relation (see GrantRoles).
	ErrRoleNotGrantable = errors.New("role not grantable")
)

// ClientGroupComment marks, as the role's comment, a group role the charm
// created for a `roles` request: only those, and the roles the operator
// lists in client_roles, are ever granted to a client. A comment on a role
// takes CREATEROLE to write, which no client holds unless the operator lets
// its application have admin attributes (admin_applications).
const ClientGroupComment = "postgresql charm: client group role"

// EnsureRole creates role name NOLOGIN INHERIT (the reactive charm's
// CREATE ROLE … INHERIT NOLOGIN) when missing, marked as a client group
// role (ClientGroupComment). An existing role is left as it is, unmarked
// if someone else made it: whether it may be granted is GrantRoles' check.
func EnsureRole(ctx context.Context, q Querier, name string) (bool, error) {
	if err := CheckClientRole(name); err != nil {
		return false, err
	}
	if strings.HasPrefix(name, "pg_") {
		return false, nil // PostgreSQL's own: granted, never created
	}
	created, err := ensureGroupRole(ctx, q, name)
	if err != nil || !created {
		return created, err
	}
	if _, err := q.Exec(ctx, "COMMENT ON ROLE "+pgx.Identifier{name}.Sanitize()+" IS '"+ClientGroupComment+"'"); err != nil {
		return true, fmt.Errorf("marking role %s: %w", name, err)
	}
	return true, nil
}

func ensureGroupRole(ctx context.Context, q Querier, name string) (bool, error) {
	exists, err := roleExists(ctx, q, name)
	if err != nil || exists {
		return false, err
	}
	if _, err := q.Exec(ctx, "CREATE ROLE "+pgx.Identifier{name}.Sanitize()+" NOLOGIN INHERIT"); err != nil {
		return false, fmt.Errorf("creating role %s: %w", name, err)
	}
	return true, nil
}

func roleExists(ctx context.Context, q Querier, name string) (bool, error) {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)`, name).Scan(&exists); err != nil {
		return false, fmt.Errorf("reading role %s: %w", name, err)
	}
	return exists, nil
}

// GrantRoles makes user a member of each role. A role is granted only if
// it exists and is grantable (RoleGraph.WhyNotGrantable with allowed, the
// operator's client_roles): it and every role it is (transitively) a
// member of is a client group role the charm created or one the operator
// allows, and none of them can log in or has SUPERUSER, CREATEROLE,
// REPLICATION or BYPASSRLS. So a client can never be granted the charm's
// system users, another relation's user, a role that leads to one, or a
// built-in or hand-made role the operator did not list. A membership that
// exists already is left alone, checked or not: roles are never revoked
// (the reactive charm's rule). It goes on past a refused role and returns
// the errors joined.
func GrantRoles(ctx context.Context, q Querier, user string, roles []string, allowed []string) (bool, error) {
	if err := CheckName(KindRole, user); err != nil {
		return false, err
	}
	g, err := LoadRoleGraph(ctx, q)
	if err != nil {
		return false, err
	}
	changed := false
	var errs []error
	for _, r := range roles {
		if err := CheckName(KindRole, r); err != nil {
			errs = append(errs, err)
			continue
		}
		if g.Roles[r] == nil {
			errs = append(errs, fmt.Errorf("granting role %s: %w", Display(r), ErrNoSuchRole))
			continue
		}
		if g.Roles[user] != nil && slices.Contains(g.Roles[user].MemberOf, r) {
			continue // granted before: nothing new, and never revoked
		}
		if why := g.WhyNotGrantable(r, allowed); why != "" {
			errs = append(errs, fmt.Errorf("granting role %s: %w: %s", Display(r), ErrRoleNotGrantable, why))
			continue
		}
		c, err := grantMembership(ctx, q, r, user)
		changed = changed || c
		if err != nil {
			errs = append(errs, err)
		}
	}
	return changed, errors.Join(errs...)
}

func grantMembership(ctx context.Context, q Querier, role, user string) (bool, error) {
	var member bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m
		JOIN pg_catalog.pg_roles r ON r.oid = m.roleid JOIN pg_catalog.pg_roles u ON u.oid = m.member
		WHERE r.rolname = $1 AND u.rolname = $2)`, role, user).Scan(&member)
	if err != nil {
		return false, fmt.Errorf("reading membership of %s in %s: %w", user, role, err)
	}
	if member {
		return false, nil
	}
	if _, err := q.Exec(ctx, "GRANT "+pgx.Identifier{role}.Sanitize()+" TO "+pgx.Identifier{user}.Sanitize()); err != nil {
		return false, fmt.Errorf("granting %s to %s: %w", role, user, err)
	}
	return true, nil
}

// Grantable returns, sorted, the existing roles GrantRoles would grant
// with allowed: the "names of existing roles" extra-user-roles may use.
func (g *RoleGraph) Grantable(allowed []string) []string {
	var out []string
	for name := range g.Roles {
		if g.WhyNotGrantable(name, allowed) == "" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// EnsureAdminMembership makes user a member of AdminRole, creating the
// role (NOLOGIN, member of pg_read_all_data and pg_write_all_data) if
// needed. It is the effect of extra-user-roles "admin" (with CREATEDB,
// set by EnsureAttributes); AdminRole itself is never grantable by name.
func EnsureAdminMembership(ctx context.Context, q Querier, user string) (bool, error) {
	if err := CheckName(KindRole, user); err != nil {
		return false, err
	}
	changed, err := ensureGroupRole(ctx, q, AdminRole)
	if err != nil {
		return false, err
	}
	for _, r := range []string{"pg_read_all_data", "pg_write_all_data", AdminRole} {
		member, grantee := r, AdminRole
		if r == AdminRole {
			grantee = user
		}
		c, err := grantMembership(ctx, q, member, grantee)
		changed = changed || c
		if err != nil {
			return changed, err
		}
	}
	return changed, nil
}

// serverAccessRoles are the predefined roles that make their members the
// postgres OS user: no client gets them, listed or not.
var serverAccessRoles = []string{"pg_execute_server_program", "pg_read_server_files", "pg_write_server_files"}

// RoleInfo is what a role's grantability depends on.
type RoleInfo struct {
	// Privileged is "" or why the role itself may never be granted.
	Privileged string
	// ClientGroup: the charm created it for a `roles` request.
	ClientGroup bool
	// MemberOf are the roles it is a direct member of.
	MemberOf []string
}

// RoleGraph is pg_roles, their comments and pg_auth_members, read once:
// what deciding whether a role may be granted to a client needs. Plain
// data, so a pass's snapshot can carry it to the pure decisions.
type RoleGraph struct {
	Roles map[string]*RoleInfo
}

// LoadRoleGraph reads the server's roles.
func LoadRoleGraph(ctx context.Context, q Querier) (*RoleGraph, error) {
	g := &RoleGraph{Roles: map[string]*RoleInfo{}}
	rows, err := q.Query(ctx, `SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolreplication, rolbypassrls,
		COALESCE(pg_catalog.shobj_description(oid, 'pg_authid'), '') = $1 FROM pg_catalog.pg_roles`, ClientGroupComment)
	if err != nil {
		return nil, fmt.Errorf("reading roles: %w", err)
	}
	for rows.Next() {
		var name string
		var login, super, createrole, repl, bypass, group bool
		if err := rows.Scan(&name, &login, &super, &createrole, &repl, &bypass, &group); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading roles: %w", err)
		}
		var why []string
		for _, a := range []struct {
			on   bool
			what string
		}{{login, "LOGIN"}, {super, "SUPERUSER"}, {createrole, "CREATEROLE"}, {repl, "REPLICATION"}, {bypass, "BYPASSRLS"}} {
			if a.on {
				why = append(why, a.what)
			}
		}
		info := &RoleInfo{ClientGroup: group && !strings.HasPrefix(name, "pg_")}
		if len(why) > 0 {
			info.Privileged = "has " + strings.Join(why, ", ")
		} else if slices.Contains(serverAccessRoles, name) {
			info.Privileged = "reaches the server's files and programs"
		} else if strings.HasPrefix(name, RelationUserPrefix) || strings.HasPrefix(name, charmedPrefix) {
			// A revoked relation user is NOLOGIN with no attributes left,
			// yet it owns that relation's objects: never grantable.
			info.Privileged = "is a role the charm manages (relation_, charmed_)"
		}
		g.Roles[name] = info
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading roles: %w", err)
	}
	rows, err = q.Query(ctx, `SELECT r.rolname, u.rolname FROM pg_catalog.pg_auth_members m
		JOIN pg_catalog.pg_roles r ON r.oid = m.roleid JOIN pg_catalog.pg_roles u ON u.oid = m.member`)
	if err != nil {
		return nil, fmt.Errorf("reading role memberships: %w", err)
	}
	for rows.Next() {
		var role, member string
		if err := rows.Scan(&role, &member); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading role memberships: %w", err)
		}
		if info := g.Roles[member]; info != nil {
			info.MemberOf = append(info.MemberOf, role)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading role memberships: %w", err)
	}
	return g, nil
}

// WhyNotGrantable returns "" when name may be granted to a client, else
// the reason, naming the offending role. allowed are the roles the
// operator lets clients hold (client_roles) besides the client group roles
// the charm created.
func (g *RoleGraph) WhyNotGrantable(name string, allowed []string) string {
	if g.Roles[name] == nil {
		return ErrNoSuchRole.Error()
	}
	// A role the operator listed vouches for what it leads to (pg_monitor
	// is a member of three other predefined roles), except for privileged
	// roles, which nothing vouches for.
	type step struct {
		role    string
		vouched bool
	}
	seen := map[step]bool{}
	todo := []step{{name, false}}
	for len(todo) > 0 {
		st := todo[0]
		todo = todo[1:]
		if seen[st] {
			continue
		}
		seen[st] = true
		info := g.Roles[st.role]
		if info == nil {
			continue
		}
		vouched := st.vouched || slices.Contains(allowed, st.role)
		why := info.Privileged
		if why == "" && !info.ClientGroup && !vouched {
			why = "is neither a role the charm created for `roles` nor in client_roles"
		}
		if why != "" {
			if st.role == name {
				return Display(st.role) + " " + why
			}
			return "it leads to " + Display(st.role) + ", which " + why
		}
		for _, m := range info.MemberOf {
			todo = append(todo, step{m, vouched})
		}
	}
	return ""
}
