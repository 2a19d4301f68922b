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

// EnsureRole creates role name NOLOGIN INHERIT (the reactive charm's
// CREATE ROLE … INHERIT NOLOGIN) when missing. An existing role is left as
// it is: whether it may be granted is GrantRoles' check.
func EnsureRole(ctx context.Context, q Querier, name string) (bool, error) {
	if err := CheckClientRole(name); err != nil {
		return false, err
	}
	return ensureGroupRole(ctx, q, name)
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
// it exists and is grantable: neither it nor any role it is (transitively)
// a member of can log in or has SUPERUSER, CREATEROLE, REPLICATION or
// BYPASSRLS, and every predefined pg_ role among them is in
// PredefinedGrantable. So a client can never be granted the charm's system
// users, another relation's user, or a role that leads to one. Roles are
// never revoked (the reactive charm's rule). It goes on past a refused
// role and returns the errors joined.
func GrantRoles(ctx context.Context, q Querier, user string, roles []string) (bool, error) {
	if err := CheckName(KindRole, user); err != nil {
		return false, err
	}
	g, err := loadRoleGraph(ctx, q)
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
		if g.roles[r] == nil {
			errs = append(errs, fmt.Errorf("granting role %s: %w", Display(r), ErrNoSuchRole))
			continue
		}
		if why := g.whyNotGrantable(r); why != "" {
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

// ListGrantableRoles returns, sorted, the existing roles GrantRoles would
// grant: the "names of existing roles" extra-user-roles may use.
func ListGrantableRoles(ctx context.Context, q Querier) ([]string, error) {
	g, err := loadRoleGraph(ctx, q)
	if err != nil {
		return nil, err
	}
	var out []string
	for name := range g.roles {
		if g.whyNotGrantable(name) == "" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
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

// roleInfo is what grantability depends on.
type roleInfo struct {
	privileged string // "" or why the role itself may not be granted
	memberOf   []string
}

// roleGraph is pg_roles and pg_auth_members, read once.
type roleGraph struct {
	roles map[string]*roleInfo
}

func loadRoleGraph(ctx context.Context, q Querier) (*roleGraph, error) {
	g := &roleGraph{roles: map[string]*roleInfo{}}
	rows, err := q.Query(ctx, `SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolreplication, rolbypassrls FROM pg_catalog.pg_roles`)
	if err != nil {
		return nil, fmt.Errorf("reading roles: %w", err)
	}
	for rows.Next() {
		var name string
		var login, super, createrole, repl, bypass bool
		if err := rows.Scan(&name, &login, &super, &createrole, &repl, &bypass); err != nil {
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
		info := &roleInfo{}
		if len(why) > 0 {
			info.privileged = "has " + strings.Join(why, ", ")
		} else if strings.HasPrefix(name, "pg_") && !slices.Contains(PredefinedGrantable, name) {
			info.privileged = "is a predefined role clients may not hold"
		} else if strings.HasPrefix(name, RelationUserPrefix) || strings.HasPrefix(name, charmedPrefix) {
			// A revoked relation user is NOLOGIN with no attributes left,
			// yet it owns that relation's objects: never grantable.
			info.privileged = "is a role the charm manages (relation_, charmed_)"
		}
		g.roles[name] = info
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
		if info := g.roles[member]; info != nil {
			info.memberOf = append(info.memberOf, role)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading role memberships: %w", err)
	}
	return g, nil
}

// whyNotGrantable returns "" when name may be granted to a client, else
// the reason, naming the offending role.
func (g *roleGraph) whyNotGrantable(name string) string {
	if g.roles[name] == nil {
		return ErrNoSuchRole.Error()
	}
	seen := map[string]bool{}
	todo := []string{name}
	for len(todo) > 0 {
		r := todo[0]
		todo = todo[1:]
		if seen[r] {
			continue
		}
		seen[r] = true
		info := g.roles[r]
		if info == nil {
			continue
		}
		if info.privileged != "" {
			if r == name {
				return Display(r) + " " + info.privileged
			}
			return "it leads to " + Display(r) + ", which " + info.privileged
		}
		todo = append(todo, info.memberOf...)
	}
	return ""
}
