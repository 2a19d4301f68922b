package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgjuju/pgjuju/internal/juju"
	"github.com/pgjuju/pgjuju/internal/juju/model"
)

// The endpoints, in the order status lists them.
var endpoints = []string{"db", "db-admin", "database"}

// Result is the outcome for one relation, as the check action returns it.
type Result struct {
	Relation string `json:"relation"`
	Endpoint string `json:"endpoint"`
	Ready    bool   `json:"ready"`
	Waiting  string `json:"waiting,omitempty"`
	Host     string `json:"host,omitempty"`
	Port     string `json:"port,omitempty"`
	User     string `json:"user,omitempty"`
	Database string `json:"database,omitempty"`
	From     string `json:"from,omitempty"`
	Table    string `json:"table,omitempty"`
	RowID    int64  `json:"row-id,omitempty"`
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`
	// Failures counts the hooks in which the relation was ready by its
	// interface's rule but the published credentials did not work;
	// LastFailure is the last such error. A correct server never makes a
	// client see this.
	Failures    int    `json:"failures"`
	LastFailure string `json:"last-failure,omitempty"`
	Password    string `json:"password,omitempty"` // only with reveal-credentials
}

// Status is the result as the unit status shows it.
func (r Result) Status() juju.Status {
	switch {
	case !r.Ready:
		return juju.Waiting(r.Relation + ": " + r.Waiting)
	case !r.OK:
		return juju.Blocked(r.Relation + ": " + r.Error)
	}
	return juju.Active(fmt.Sprintf("%s ok (%s@%s/%s)", r.Relation, r.User, r.Host, r.Database))
}

// settings is the client's config.
type settings struct {
	database, roles, extensions string
	extraUserRoles              string
	requestedSecrets            string
}

func readSettings(ctx context.Context, m *model.Model) (settings, error) {
	cfg, err := m.Config(ctx)
	if err != nil {
		return settings{}, err
	}
	var s settings
	for _, kv := range []struct {
		key string
		dst *string
		raw bool
	}{
		{"database", &s.database, false}, {"roles", &s.roles, false}, {"extensions", &s.extensions, false},
		{"extra-user-roles", &s.extraUserRoles, false}, {"requested-secrets", &s.requestedSecrets, true},
	} {
		v, err := cfg.String(kv.key)
		if err != nil {
			return settings{}, err
		}
		if !kv.raw {
			if v, err = DecodeConfig(v); err != nil {
				return settings{}, fmt.Errorf("config %s: %w", kv.key, err)
			}
		}
		*kv.dst = v
	}
	return s, nil
}

// reconcile runs for every hook: send the requests, then for each relation
// check readiness, connect when ready and report.
func reconcile(ctx context.Context, h *juju.Hook) error {
	m := model.New(h.Backend, h.Env.UnitName, h.Meta, model.Options{Redactor: h.Redactor})
	s, err := readSettings(ctx, m)
	if err != nil {
		h.Status.Add(juju.Blocked(err.Error()))
		return nil
	}
	results, err := visit(ctx, h, m, s, "", true)
	if err != nil {
		return err
	}
	if err := recordFailures(ctx, h, results); err != nil {
		return err
	}
	if len(results) == 0 {
		h.Status.Add(juju.Active("no database relations"))
		return nil
	}
	var msgs []string
	level := juju.StatusActive
	for _, r := range results {
		st := r.Status()
		msgs = append(msgs, st.Message)
		if st.Level == juju.StatusBlocked || (st.Level == juju.StatusWaiting && level == juju.StatusActive) {
			level = st.Level
		}
		h.Log.Info("relation outcome", "relation", r.Relation, "ready", r.Ready, "ok", r.OK,
			"user", r.User, "host", r.Host, "database", r.Database, "waiting", r.Waiting, "error", r.Error)
	}
	h.Status.Add(juju.Status{Level: level, Message: strings.Join(msgs, "; ")})
	return nil
}

// checkAction reconnects now and returns the results as JSON.
func checkAction(ctx context.Context, h *juju.Hook) error {
	m := model.New(h.Backend, h.Env.UnitName, h.Meta, model.Options{Redactor: h.Redactor})
	params, err := h.Backend.ActionGet(ctx)
	if err != nil {
		return err
	}
	filter, _ := params["relation"].(string)
	reveal, _ := params["reveal-credentials"].(bool)
	s, err := readSettings(ctx, m)
	if err != nil {
		return h.Backend.ActionFail(ctx, err.Error())
	}
	results, err := visit(ctx, h, m, s, filter, false)
	if err != nil {
		return h.Backend.ActionFail(ctx, err.Error())
	}
	state, err := h.Backend.StateGet(ctx)
	if err != nil {
		return err
	}
	allOK := len(results) > 0
	for i := range results {
		results[i].Failures, results[i].LastFailure = parseFailures(state[failureKey(results[i].Relation)])
		allOK = allOK && results[i].OK
		if !reveal {
			results[i].Password = ""
		}
	}
	out, err := json.Marshal(results)
	if err != nil {
		return err
	}
	return h.Backend.ActionSet(ctx, map[string]string{"results": string(out), "ok": strconv.FormatBool(allOK)})
}

// failureKey is the charm-state key counting a relation's failures.
func failureKey(relID string) string { return "failures." + relID }

// parseFailures reads "<count> <last error>".
func parseFailures(v string) (int, string) {
	n, last, _ := strings.Cut(v, " ")
	count, _ := strconv.Atoi(n)
	return count, last
}

// recordFailures counts, in charm state, the hooks in which a ready
// relation's credentials did not work (the check action reports them).
func recordFailures(ctx context.Context, h *juju.Hook, results []Result) error {
	var failed []Result
	for _, r := range results {
		if r.Ready && !r.OK {
			failed = append(failed, r)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	state, err := h.Backend.StateGet(ctx)
	if err != nil {
		return err
	}
	changes := map[string]string{}
	for _, r := range failed {
		n, _ := parseFailures(state[failureKey(r.Relation)])
		changes[failureKey(r.Relation)] = fmt.Sprintf("%d %s: %s", n+1, h.Event.Name, r.Error)
	}
	return h.Backend.StateSet(ctx, changes)
}

// visit handles every relation of every endpoint (or those filter names:
// an endpoint or a relation id); write sends the requests first.
func visit(ctx context.Context, h *juju.Hook, m *model.Model, s settings, filter string, write bool) ([]Result, error) {
	var results []Result
	for _, ep := range endpoints {
		rels, err := m.Relations(ctx, ep)
		if err != nil {
			return nil, err
		}
		for _, rel := range rels {
			if filter != "" && filter != ep && filter != rel.ID {
				continue
			}
			var r Result
			if ep == "database" {
				r, err = visitClient(ctx, h, m, rel, s, write)
			} else {
				r, err = visitPgsql(ctx, h, m, rel, s, write)
			}
			if err != nil {
				return nil, err
			}
			results = append(results, r)
		}
	}
	return results, nil
}

// visitPgsql sends the request on a db or db-admin relation: in the unit
// databag from -relation-joined on (as v0/v1 clients do) and, as leader,
// in the application databag too (v2, ops-lib-pgsql), then applies the
// readiness rules.
func visitPgsql(ctx context.Context, h *juju.Hook, m *model.Model, rel *model.Relation, s settings, write bool) (Result, error) {
	req := map[string]string{"database": s.database, "roles": s.roles, "extensions": s.extensions}
	if write {
		created := h.Event.Kind == juju.KindRelationCreated && h.Event.RelationID == rel.ID
		if !created {
			if err := sendUnit(ctx, rel, req); err != nil {
				return Result{}, err
			}
		}
		if err := sendApp(ctx, m, rel, req); err != nil {
			return Result{}, err
		}
	}
	own, err := rel.LocalUnitData(ctx)
	if err != nil {
		return Result{}, err
	}
	v := PgsqlView{
		Unit: m.Unit(), App: m.App(),
		Request: PgsqlRequest{Database: s.database, Roles: s.roles, Extensions: s.extensions},
		Remote:  map[string]map[string]string{},
	}
	for _, sn := range strings.Split(own.Get("egress-subnets"), ",") {
		if sn = strings.TrimSpace(sn); sn != "" {
			v.EgressSubnets = append(v.EgressSubnets, sn)
		}
	}
	for _, u := range rel.Units {
		bag, err := rel.UnitData(ctx, u)
		if err != nil {
			return Result{}, err
		}
		v.Remote[u] = bag.Map()
	}
	return exercise(ctx, h, m, rel, PgsqlTarget(v)), nil
}

// visitClient sends the request on a database relation (leader, app
// databag, from -relation-created on) and applies §B.5.
func visitClient(ctx context.Context, h *juju.Hook, m *model.Model, rel *model.Relation, s settings, write bool) (Result, error) {
	if write {
		db := s.database
		if db == "" {
			db = m.App()
		}
		req := map[string]string{"database": db, "requested-secrets": s.requestedSecrets, "extra-user-roles": s.extraUserRoles}
		if err := sendApp(ctx, m, rel, req); err != nil {
			return Result{}, err
		}
	}
	app, err := rel.RemoteAppData(ctx)
	if err != nil {
		return Result{}, err
	}
	v := ClientView{App: app.Map()}
	if id := app.Get("secret-user"); id != "" {
		// --refresh: follow new revisions (a rotated password) at once.
		content, err := m.GetSecret(ctx, id, juju.SecretGetOptions{Refresh: true})
		if err != nil {
			h.Log.Warn("cannot read the user secret yet", "relation", rel.ID, "err", err)
		} else {
			v.UserSecret = content
		}
	}
	return exercise(ctx, h, m, rel, ClientTarget(v)), nil
}

// sendUnit writes the keys that differ into the local unit's databag.
func sendUnit(ctx context.Context, rel *model.Relation, want map[string]string) error {
	bag, err := rel.LocalUnitData(ctx)
	if err != nil {
		return err
	}
	return send(ctx, rel, false, bag, want)
}

// sendApp writes the keys that differ into the local application's
// databag, when leader.
func sendApp(ctx context.Context, m *model.Model, rel *model.Relation, want map[string]string) error {
	leader, err := m.IsLeader(ctx)
	if err != nil || !leader {
		return err
	}
	bag, err := rel.LocalAppData(ctx)
	if err != nil {
		return err
	}
	return send(ctx, rel, true, bag, want)
}

func send(ctx context.Context, rel *model.Relation, app bool, bag *model.Databag, want map[string]string) error {
	changes := map[string]string{}
	raw := false
	for k, v := range want {
		if bag.Get(k) != v {
			changes[k] = v
			raw = raw || !utf8.ValidString(v)
		}
	}
	if len(changes) == 0 {
		return nil
	}
	if raw {
		// JSON (what the model sends on stdin) cannot carry bytes that are
		// not UTF-8; key=value arguments can.
		return rawRelationSet(ctx, rel.ID, app, changes)
	}
	return bag.Update(ctx, changes)
}

// rawRelationSet runs relation-set with key=value arguments.
func rawRelationSet(ctx context.Context, relID string, app bool, kv map[string]string) error {
	args := []string{"-r", relID}
	if app {
		args = append(args, "--app")
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		args = append(args, k+"="+kv[k])
	}
	out, err := exec.CommandContext(ctx, "relation-set", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("relation-set -r %s: %v: %s", relID, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// exercise connects to a ready target, writes a row and reads it back.
func exercise(ctx context.Context, h *juju.Hook, m *model.Model, rel *model.Relation, t Target) Result {
	r := Result{Relation: rel.ID, Endpoint: rel.Endpoint, Ready: t.Ready(), Waiting: t.WaitingFor,
		Host: t.Host, Port: t.Port, User: t.User, Database: t.Database, From: t.From, Password: t.Password}
	if !r.Ready {
		return r
	}
	h.Redactor.Register(t.Password)
	r.Table = "pgclient_" + t.User
	id, err := writeRow(ctx, t, r.Table, m.Unit(), rel.ID)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.RowID, r.OK = id, true
	return r
}

// writeRow connects as the relation user, creates the table if needed,
// inserts a row naming the unit and reads it back.
func writeRow(ctx context.Context, t Target, table, unit, relID string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	port, err := strconv.ParseUint(t.Port, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("port %q: %v", t.Port, err)
	}
	cfg, err := pgx.ParseConfig("sslmode=prefer connect_timeout=10")
	if err != nil {
		return 0, err
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = t.Host, uint16(port), t.User, t.Password, t.Database
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return 0, fmt.Errorf("connect: %w", scrub(err, t.Password))
	}
	defer conn.Close(context.Background())
	ident := pgx.Identifier{table}.Sanitize()
	create := "CREATE TABLE IF NOT EXISTS " + ident +
		" (id bigserial PRIMARY KEY, unit text NOT NULL, relation text NOT NULL, written_at timestamptz NOT NULL DEFAULT now())"
	if _, err := conn.Exec(ctx, create); err != nil {
		// Two units creating the table at once: one loses on the catalogue's
		// unique index; the table exists then.
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || (pgErr.Code != "23505" && pgErr.Code != "42P07") {
			return 0, fmt.Errorf("create table: %w", err)
		}
	}
	var id int64
	if err := conn.QueryRow(ctx, "INSERT INTO "+ident+" (unit, relation) VALUES ($1, $2) RETURNING id", unit, relID).Scan(&id); err != nil {
		return 0, fmt.Errorf("insert: %w", err)
	}
	var got string
	if err := conn.QueryRow(ctx, "SELECT unit FROM "+ident+" WHERE id = $1", id).Scan(&got); err != nil {
		return 0, fmt.Errorf("read back: %w", err)
	}
	if got != unit {
		return 0, fmt.Errorf("read back %q, wrote %q", got, unit)
	}
	return id, nil
}

// scrub keeps a password out of an error's text.
func scrub(err error, password string) error {
	if password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), password, juju.Redacted))
}
