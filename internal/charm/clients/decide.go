package clients

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/pgjuju/pgjuju/internal/clientdb"
	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/pgconf"
	"github.com/pgjuju/pgjuju/internal/relations/pgclient"
	"github.com/pgjuju/pgjuju/internal/relations/pgsql"
)

// Client endpoints (shared/interfaces.md §A, §B).
const (
	EndpointDB       = string(pgsql.EndpointDB)
	EndpointDBAdmin  = string(pgsql.EndpointDBAdmin)
	EndpointDatabase = "database"
)

// Endpoints are the endpoints client charms relate to, in the order
// a pass reads them.
var Endpoints = []string{EndpointDB, EndpointDBAdmin, EndpointDatabase}

// Relation is one live client relation as this unit reads it.
type Relation struct {
	ID       string // "db:5"
	Endpoint string
	App      string // the client application
	// AppData is the client application's databag.
	AppData map[string]string
	// UnitData holds the databags of the client units in the relation
	// (a departing unit is already gone).
	UnitData map[string]map[string]string
	// LocalAppData is this application's databag (read by the leader
	// only; nil elsewhere).
	LocalAppData map[string]string
	// Host is this unit's ingress address for the relation.
	Host string
}

// Served is what the leader records, in the peer application
// databag, about a relation it served: enough to keep serving it, to refuse
// a changed database, and to revoke its user after the relation is gone
// (in whichever hook the leader notices).
type Served struct {
	Endpoint  string `json:"endpoint"`
	App       string `json:"app"`
	User      string `json:"user"`
	Database  string `json:"database"`
	Requested bool   `json:"requested,omitempty"`
}

// ServerFacts is what the pass read from Patroni and PostgreSQL; nil in the
// snapshot when they did not answer (relations then wait, and pg_hba keeps
// the rules of relations already served).
type ServerFacts struct {
	// Primary is the primary's address; "" when the cluster has none.
	Primary string
	// Replicas are the running replicas' addresses.
	Replicas []string
	// SelfPrimary and SelfReplica give this unit's role.
	SelfPrimary, SelfReplica bool
	Port                     int
	Version                  string // "15.10"
	// Roles are the server's roles, for which a client may be granted
	// (clientdb.RoleGraph.Grantable with Input.ClientRoles).
	Roles *clientdb.RoleGraph
	// Extensions are the extensions the server can create.
	Extensions map[string]bool
}

// Service is the SQL the leader runs on the primary for one relation
// (clientdb's order: login user, attributes, database, access, roles,
// grants, extensions, admin membership).
type Service struct {
	ID         string
	User       string
	Database   string
	Attributes []clientdb.Attribute
	// CreateRoles are created NOLOGIN when missing (db: roles), then
	// granted with Roles.
	CreateRoles []string
	Roles       []string
	Extensions  []clientdb.Extension
	Admin       bool
	// AllowedRoles are the operator's client_roles: GrantRoles grants
	// only those and the charm's client group roles.
	AllowedRoles []string
	Reason       string
}

// want is what the drift check compares the catalogs with.
func (s Service) want(password string) clientdb.Want {
	return clientdb.Want{ID: s.ID, User: s.User, Password: password, Database: s.Database,
		Attributes: s.Attributes, CreateRoles: s.CreateRoles, Roles: s.Roles, Admin: s.Admin}
}

// Publish is the data one relation gets from this unit: the unit
// databag (db, db-admin) or, on the leader, the application databag and
// secrets (database). It is rendered at apply time, once the password is
// known and pg_hba is loaded.
type Publish struct {
	ID     string
	Legacy *pgsql.Request
	Server pgsql.Server
	// Allowed are the client units pg_hba admits once loaded.
	Allowed []clientdb.ClientUnit
	Client  *pgclient.Request
	Cluster pgclient.Cluster
	// UseSecrets: credentials go in Juju secrets (pgclient.UseSecrets).
	UseSecrets bool
}

// Plan is the client-relation part of a plan.
type Plan struct {
	// HBA are the pg_hba rules of every client relation.
	HBA []pgconf.HBARule
	// Serve, Revoke and Withdraw run on the primary, by the leader only.
	Serve  []Service
	Revoke []Revoke
	// Withdraw are served relations refused because their application
	// left admin_applications: their users lose the admin attributes.
	Withdraw []Revoke
	// Publish runs after pg_hba is loaded.
	Publish []Publish
	// Record are the served records to write (nil deletes).
	Record map[string]*Served
	// Statuses are the relations' contributions (refusals).
	Statuses []juju.Status
	// NeedFacts: relations wait for PostgreSQL to answer.
	NeedFacts bool

	// claimed maps a database to the application it serves when
	// isolate_databases is on.
	claimed map[string]string
}

// Revoke is a relation gone (its user loses LOGIN) or one whose admin
// attributes are withdrawn; either way the roles it created go
// (Database.DropCreatedRoles).
type Revoke struct {
	ID     string
	Served Served
	// Keep are the operator's client_roles, and Live the users of the
	// other served relations: never dropped nor disarmed.
	Keep, Live []string
}

// liveUsers are the users of the served relations other than id.
func liveUsers(served map[string]Served, id string) []string {
	var out []string
	for rid, sv := range served {
		if rid != id {
			out = append(out, sv.User)
		}
	}
	slices.Sort(out)
	return out
}

// Input is what Decide reads.
type Input struct {
	Leader    bool
	Relations []Relation
	// Served are the leader's records, by relation id.
	Served map[string]Served
	// Passwords are the relation users' passwords, by relation id.
	Passwords map[string]string
	DB        *ServerFacts
	// SecretsAvailable: the model has Juju secrets (3.0.3+).
	SecretsAvailable bool
	// ClientNetworks are where a client unit's egress-subnets may be
	// wider than one address (config client_networks).
	ClientNetworks []netip.Prefix
	// ClientRoles are the existing roles the operator lets clients be
	// granted (config client_roles).
	ClientRoles []string
	// AdminApplications may have admin attributes through
	// extra-user-roles (config admin_applications).
	AdminApplications []string
	// IsolateDatabases: a database serves one application only (config
	// isolate_databases).
	IsolateDatabases bool
}

// Decide plans the client relations. It is pure. Each relation is
// decided on its own: a refused one contributes a Blocked status naming it
// and nothing else (no SQL, no new pg_hba rule, nothing published), and
// never affects the others.
func Decide(in Input) Plan {
	var p Plan
	live := map[string]bool{}
	rels := slices.Clone(in.Relations)
	slices.SortFunc(rels, func(a, b Relation) int { return CompareRelationIDs(a.ID, b.ID) })
	if in.IsolateDatabases {
		// The first application served a database keeps it: records
		// first (in relation order), then relations in relation order.
		p.claimed = map[string]string{}
		for _, id := range slices.SortedFunc(maps.Keys(in.Served), CompareRelationIDs) {
			if sv := in.Served[id]; sv.Endpoint != EndpointDBAdmin && p.claimed[sv.Database] == "" {
				p.claimed[sv.Database] = sv.App
			}
		}
	}
	for _, r := range rels {
		live[r.ID] = true
		decideRelation(in, r, &p)
	}
	for _, id := range slices.SortedFunc(maps.Keys(in.Served), CompareRelationIDs) {
		if live[id] || !in.Leader {
			continue
		}
		if in.DB == nil || in.DB.Primary == "" {
			p.NeedFacts = true
			continue
		}
		p.Revoke = append(p.Revoke, Revoke{ID: id, Served: in.Served[id], Keep: in.ClientRoles, Live: liveUsers(in.Served, id)})
		p.record(id, nil)
	}
	return p
}

func (p *Plan) record(id string, s *Served) {
	if p.Record == nil {
		p.Record = map[string]*Served{}
	}
	p.Record[id] = s
}

func (p *Plan) refuse(err error) {
	p.Statuses = append(p.Statuses, juju.Blocked(err.Error()))
}

// decideRelation plans one relation.
func decideRelation(in Input, r Relation, p *Plan) {
	served, wasServed := in.Served[r.ID]
	units, skipped := clientdb.ClientUnits(r.UnitData, in.ClientNetworks)
	// keepServed keeps pg_hba admitting what was served when the current
	// request cannot be decided or is refused: the client keeps what
	// it had, and nothing new comes from the bad value.
	keepServed := func() {
		if wasServed {
			db := served.Database
			if served.Endpoint == EndpointDBAdmin {
				db = clientdb.AllDatabases
			}
			p.HBA = append(p.HBA, clientdb.HBARules(db, served.User, clientdb.Subnets(units))...)
		}
	}
	if i := slices.IndexFunc(skipped, func(err error) bool { return errors.Is(err, clientdb.ErrWideSubnet) }); i >= 0 {
		// A unit asks to be admitted from a network wider than itself
		// that the operator did not allow: nothing new for the
		// relation, and a status saying how to allow it.
		p.refuse(fmt.Errorf("%s: %w", r.ID, skipped[i]))
		keepServed()
		return
	}
	switch r.Endpoint {
	case EndpointDB, EndpointDBAdmin:
		decideLegacy(in, r, units, served, wasServed, keepServed, p)
	case EndpointDatabase:
		decideDatabase(in, r, units, served, wasServed, keepServed, p)
	}
}

// decideLegacy plans a db or db-admin relation (§A).
func decideLegacy(in Input, r Relation, units []clientdb.ClientUnit, served Served, wasServed bool, keepServed func(), p *Plan) {
	if len(r.UnitData) == 0 && !wasServed {
		return // nothing is served before a client unit joins (§A.7)
	}
	req, err := pgsql.ParseRequest(pgsql.Input{RelationID: r.ID, ClientApp: r.App, AppData: r.AppData,
		UnitData: r.UnitData, Served: pgsql.Served{Database: served.Database, Requested: served.Requested}})
	if err != nil {
		p.refuse(err)
		keepServed()
		return
	}
	if err := p.claim(r, req.Database); err != nil {
		p.refuse(err)
		keepServed()
		return
	}
	if in.DB == nil {
		p.NeedFacts = true
		keepServed()
		return
	}
	for _, e := range req.Extensions {
		if !in.DB.Extensions[e.Name] {
			p.refuse(&pgsql.RequestError{Relation: r.ID, Err: &clientdb.ExtensionUnavailableError{Name: e.Name}})
			keepServed()
			return
		}
	}
	p.HBA = append(p.HBA, pgsql.HBARules(req, units)...)
	servable := wasServed
	if in.Leader && in.DB.Primary != "" {
		p.Serve = append(p.Serve, Service{ID: r.ID, User: req.User, Database: req.Database,
			Attributes: req.Attributes(), CreateRoles: req.Roles, Roles: req.Roles, Extensions: req.Extensions,
			AllowedRoles: in.ClientRoles, Reason: fmt.Sprintf("%s requests database %s", r.ID, clientdb.Display(req.Database))})
		rec := Served{Endpoint: r.Endpoint, App: r.App, User: req.User, Database: req.Database, Requested: req.DatabaseRequested}
		if !wasServed || rec != served {
			p.record(r.ID, &rec)
		}
		servable = true
	}
	if !servable || (in.Passwords[r.ID] == "" && !in.Leader) {
		return // a non-leader waits for the leader to serve it
	}
	p.Publish = append(p.Publish, Publish{ID: r.ID, Legacy: &req, Server: legacyServer(r, in.DB), Allowed: units})
}

// decideDatabase plans a database relation (§B).
func decideDatabase(in Input, r Relation, units []clientdb.ClientUnit, served Served, wasServed bool, keepServed func(), p *Plan) {
	if in.DB == nil {
		p.NeedFacts = true
		keepServed()
		return
	}
	var grantable []string
	if in.DB.Roles != nil {
		grantable = in.DB.Roles.Grantable(in.ClientRoles)
	}
	req, err := pgclient.ParseRequest(pgclient.Input{RelationID: r.ID, ClientApp: r.App, AppData: r.AppData,
		ServedDatabase: served.Database, GrantableRoles: grantable})
	if errors.Is(err, pgclient.ErrNoDatabase) {
		return // the requirer writes database in -relation-created; wait
	}
	if err == nil {
		if err = checkAdmin(in, r, req); err != nil && wasServed && in.Leader && in.DB.Primary != "" {
			// Permission withdrawn: what it was given goes too.
			p.Withdraw = append(p.Withdraw, Revoke{ID: r.ID, Served: served, Keep: in.ClientRoles, Live: liveUsers(in.Served, r.ID)})
		}
	}
	if err == nil {
		err = p.claim(r, req.Database)
	}
	if err != nil {
		p.refuse(err)
		keepServed()
		return
	}
	p.HBA = append(p.HBA, pgclient.HBARules(req, units)...)
	if !in.Leader || in.DB.Primary == "" {
		return // the app databag is the leader's; it publishes
	}
	p.Serve = append(p.Serve, Service{ID: r.ID, User: req.User, Database: req.Database,
		Attributes: req.Attributes, Roles: req.Roles, Admin: req.Admin, AllowedRoles: in.ClientRoles,
		Reason: fmt.Sprintf("%s requests database %s", r.ID, clientdb.Display(req.Database))})
	rec := Served{Endpoint: r.Endpoint, App: r.App, User: req.User, Database: req.Database, Requested: true}
	if !wasServed || rec != served {
		p.record(r.ID, &rec)
	}
	if len(units) == 0 {
		// Credentials in the app databag are read by every client
		// unit at once, and a client connects as soon as they
		// appear (§B.5): publish only once pg_hba admits the units
		// that will read them. The user and database are ready.
		return
	}
	p.Publish = append(p.Publish, Publish{ID: r.ID, Client: &req, Cluster: clientCluster(in.DB),
		UseSecrets: pgclient.UseSecrets(req, in.SecretsAvailable, r.LocalAppData)})
}

// ErrAdminNotAllowed: a client application asks for admin attributes
// the operator did not allow it (admin_applications).
var ErrAdminNotAllowed = errors.New("admin attributes not allowed")

// ErrDatabaseTaken: with isolate_databases, another application's
// relation was served the database first.
var ErrDatabaseTaken = errors.New("the database serves another application")

// checkAdmin refuses extra-user-roles superuser, createrole and admin
// from an application not in admin_applications. Each makes the relation
// user reach beyond its own database: superuser is everything, createrole
// makes roles (and comments on them) outside the charm's control, admin
// reads and writes every database.
func checkAdmin(in Input, r Relation, req pgclient.Request) error {
	var asked []string
	if slices.Contains(req.Attributes, clientdb.AttrSuperuser) {
		asked = append(asked, "superuser")
	}
	if slices.Contains(req.Attributes, clientdb.AttrCreateRole) {
		asked = append(asked, "createrole")
	}
	if req.Admin {
		asked = append(asked, "admin")
	}
	if len(asked) == 0 || slices.Contains(in.AdminApplications, r.App) {
		return nil
	}
	return fmt.Errorf("%s: %w: %s asks for %s in extra-user-roles; add %s to admin_applications to allow it",
		r.ID, ErrAdminNotAllowed, r.App, strings.Join(asked, ", "), r.App)
}

// claim checks, with isolate_databases, that database serves no other
// application, and claims it for r's. db-admin relations are superusers
// on every database anyway and claim nothing.
func (p *Plan) claim(r Relation, database string) error {
	if p.claimed == nil || r.Endpoint == EndpointDBAdmin {
		return nil
	}
	owner := p.claimed[database]
	if owner == "" {
		p.claimed[database] = r.App
		return nil
	}
	if owner != r.App {
		return fmt.Errorf("%s: %w: database %s serves %s, and isolate_databases is on", r.ID, ErrDatabaseTaken, clientdb.Display(database), owner)
	}
	return nil
}

// legacyServer is what this unit announces on a db or db-admin relation
// (§A.2, §A.3): its own host and state, the primary and the standbys.
func legacyServer(r Relation, db *ServerFacts) pgsql.Server {
	s := pgsql.Server{Self: pgsql.Address{Host: r.Host, Port: db.Port}, Version: db.Version}
	switch {
	case db.SelfPrimary && len(db.Replicas) == 0:
		s.State = pgsql.StateStandalone
	case db.SelfPrimary:
		s.State = pgsql.StateMaster
	case db.SelfReplica && db.Primary == "":
		s.State = pgsql.StateFailover
	case db.SelfReplica:
		s.State = pgsql.StateHotStandby
	}
	if db.Primary != "" {
		s.Primary = &pgsql.Address{Host: db.Primary, Port: db.Port}
	}
	for _, h := range db.Replicas {
		s.Standbys = append(s.Standbys, pgsql.Address{Host: h, Port: db.Port})
	}
	return s
}

func clientCluster(db *ServerFacts) pgclient.Cluster {
	c := pgclient.Cluster{Primary: pgclient.Address{Host: db.Primary, Port: db.Port}, Version: db.Version}
	for _, h := range db.Replicas {
		c.Replicas = append(c.Replicas, pgclient.Address{Host: h, Port: db.Port})
	}
	return c
}

// CompareRelationIDs orders "db:5" before "db:12", by number first (ids
// are unique across endpoints).
func CompareRelationIDs(a, b string) int {
	na, nb := RelationNumber(a), RelationNumber(b)
	if na != nb {
		return na - nb
	}
	if a < b {
		return -1
	}
	if a > b {
		return 1
	}
	return 0
}

func RelationNumber(id string) int {
	for i := len(id) - 1; i >= 0; i-- {
		if id[i] == ':' {
			n, err := strconv.Atoi(id[i+1:])
			if err == nil {
				return n
			}
			break
		}
	}
	return -1
}

// CombineRefusals makes one Blocked status of the refused relations: the
// first refusal in full, then the ids of the others ("db:5: ... (and 2
// more relations refused: db:6, database:7)"), so no refusal hides
// another. ok is false when there is none.
func CombineRefusals(refused []juju.Status) (juju.Status, bool) {
	if len(refused) == 0 {
		return juju.Status{}, false
	}
	msg := refused[0].Message
	if len(refused) > 1 {
		var ids []string
		for _, st := range refused[1:] {
			id, _, _ := strings.Cut(st.Message, ": ")
			ids = append(ids, id)
		}
		msg += fmt.Sprintf(" (and %d more relations refused: %s)", len(ids), strings.Join(ids, ", "))
	}
	return juju.Blocked(msg), true
}

// HBAGate says which client data this unit may publish, given the
// client pg_hba rules each member has loaded (a hash every unit publishes
// in its peer unit databag once its PostgreSQL runs with them). Clients
// connect to the primary whatever unit told them about it, and to the
// replicas the database relation lists, so:
//
//   - db and db-admin (each unit publishes its own host and the master):
//     the primary runs with the rules (this unit's own are loaded already);
//   - database (the leader publishes endpoints and read-only endpoints):
//     the primary and every running replica run with them
//     (interfaces.md §B.6).
//
// members maps each running member's unit to the hash it published; self
// is this unit, whose rules are loaded when the gate is asked.
type HBAGate struct {
	Legacy, Database bool
}

// DecideHBAGate is pure. primary is the primary's unit ("" when
// the cluster has none, which publishes nothing new), running the
// replicas' units, published their hashes, want this unit's hash.
func DecideHBAGate(self, primary string, running []string, published map[string]string, want string) HBAGate {
	loaded := func(u string) bool { return u == self || published[u] == want }
	if primary == "" || !loaded(primary) {
		return HBAGate{}
	}
	g := HBAGate{Legacy: true, Database: true}
	for _, u := range running {
		if !loaded(u) {
			g.Database = false
		}
	}
	return g
}
