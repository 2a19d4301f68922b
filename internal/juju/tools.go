package juju

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

const jsonFormat = "--format=json"

// RelationGet runs `relation-get --format=json [-r id] [--app] - <target>`.
func (cl *Client) RelationGet(ctx context.Context, relationID, target string, app bool) (map[string]string, error) {
	args := relationArgs([]string{jsonFormat}, relationID)
	if app {
		args = append(args, "--app")
	}
	args = append(args, "-", target)
	data := map[string]string{}
	if err := cl.runJSON(ctx, call{cmd: "relation-get", args: args}, &data); err != nil {
		return nil, err
	}
	if data == nil {
		data = map[string]string{}
	}
	return data, nil
}

// RelationSet runs `relation-set [-r id] [--app] --file -` with the data as
// JSON on stdin, so values never appear in argv.
func (cl *Client) RelationSet(ctx context.Context, relationID string, app bool, data map[string]string) error {
	args := relationArgs(nil, relationID)
	if app {
		args = append(args, "--app")
	}
	args = append(args, "--file", "-")
	stdin, err := json.Marshal(nonNil(data))
	if err != nil {
		return fmt.Errorf("encoding relation data: %w", err)
	}
	_, err = cl.run(ctx, call{cmd: "relation-set", args: args, stdin: stdin})
	return err
}

// RelationIDs runs `relation-ids --format=json <endpoint>`.
func (cl *Client) RelationIDs(ctx context.Context, endpoint string) ([]string, error) {
	return cl.stringList(ctx, "relation-ids", jsonFormat, endpoint)
}

// RelationList runs `relation-list --format=json [-r id]`.
func (cl *Client) RelationList(ctx context.Context, relationID string) ([]string, error) {
	return cl.stringList(ctx, "relation-list", relationArgs([]string{jsonFormat}, relationID)...)
}

// RelationRemoteApp runs `relation-list --format=json --app [-r id]`.
func (cl *Client) RelationRemoteApp(ctx context.Context, relationID string) (string, error) {
	var app string
	args := relationArgs([]string{jsonFormat, "--app"}, relationID)
	err := cl.runJSON(ctx, call{cmd: "relation-list", args: args}, &app)
	return app, err
}

// ConfigGet runs `config-get --format=json`.
func (cl *Client) ConfigGet(ctx context.Context) (map[string]any, error) {
	cfg := map[string]any{}
	if err := cl.runJSON(ctx, call{cmd: "config-get", args: []string{jsonFormat}}, &cfg); err != nil {
		return nil, err
	}
	if cfg == nil {
		cfg = map[string]any{}
	}
	return cfg, nil
}

// UnitGet runs `unit-get --format=json <key>`.
func (cl *Client) UnitGet(ctx context.Context, key string) (string, error) {
	var v string
	err := cl.runJSON(ctx, call{cmd: "unit-get", args: []string{jsonFormat, key}}, &v)
	return v, err
}

// NetworkGet runs `network-get --format=json <binding> [-r id]`.
func (cl *Client) NetworkGet(ctx context.Context, binding, relationID string) (NetworkInfo, error) {
	var n NetworkInfo
	args := relationArgs([]string{jsonFormat, binding}, relationID)
	err := cl.runJSON(ctx, call{cmd: "network-get", args: args}, &n)
	return n, err
}

// IsLeader runs `is-leader --format=json`.
func (cl *Client) IsLeader(ctx context.Context) (bool, error) {
	var v bool
	err := cl.runJSON(ctx, call{cmd: "is-leader", args: []string{jsonFormat}}, &v)
	return v, err
}

// LeaderGet runs `leader-get --format=json -`.
func (cl *Client) LeaderGet(ctx context.Context) (map[string]string, error) {
	return cl.stringMap(ctx, "leader-get", jsonFormat, "-")
}

// LeaderSet runs `leader-set key=value...` (leader-set has no --file).
// Values are redacted from a ToolError.
func (cl *Client) LeaderSet(ctx context.Context, data map[string]string) error {
	if len(data) == 0 {
		return nil
	}
	_, err := cl.run(ctx, call{cmd: "leader-set", args: keyValueArgs(data), redactValues: true})
	return err
}

// StatusSet runs `status-set [--application] <level> <message>`.
func (cl *Client) StatusSet(ctx context.Context, s Status, app bool) error {
	var args []string
	if app {
		args = append(args, "--application")
	}
	args = append(args, string(s.Level), s.Message)
	_, err := cl.run(ctx, call{cmd: "status-set", args: args})
	return err
}

// ApplicationVersionSet runs `application-version-set <version>`.
func (cl *Client) ApplicationVersionSet(ctx context.Context, version string) error {
	_, err := cl.run(ctx, call{cmd: "application-version-set", args: []string{version}})
	return err
}

// ActionGet runs `action-get --format=json`.
func (cl *Client) ActionGet(ctx context.Context) (map[string]any, error) {
	params := map[string]any{}
	if err := cl.runJSON(ctx, call{cmd: "action-get", args: []string{jsonFormat}}, &params); err != nil {
		return nil, err
	}
	if params == nil {
		params = map[string]any{}
	}
	return params, nil
}

// ActionSet runs `action-set key=value...`. action-set has no --file, so a
// result such as a password is in the tool's argv; it is redacted from a
// ToolError.
func (cl *Client) ActionSet(ctx context.Context, results map[string]string) error {
	if len(results) == 0 {
		return nil
	}
	_, err := cl.run(ctx, call{cmd: "action-set", args: keyValueArgs(results), redactValues: true})
	return err
}

// ActionFail runs `action-fail <message>`.
func (cl *Client) ActionFail(ctx context.Context, message string) error {
	_, err := cl.run(ctx, call{cmd: "action-fail", args: []string{message}})
	return err
}

// ActionLog runs `action-log <message>`.
func (cl *Client) ActionLog(ctx context.Context, message string) error {
	_, err := cl.run(ctx, call{cmd: "action-log", args: []string{message}})
	return err
}

// JujuLog runs `juju-log --log-level <level> -- <message>`.
func (cl *Client) JujuLog(ctx context.Context, level LogLevel, message string) error {
	_, err := cl.run(ctx, call{cmd: "juju-log", args: []string{"--log-level", string(level), "--", message}})
	return err
}

// OpenPort runs `open-port <port>`.
func (cl *Client) OpenPort(ctx context.Context, p Port) error {
	_, err := cl.run(ctx, call{cmd: "open-port", args: []string{p.String()}})
	return err
}

// ClosePort runs `close-port <port>`.
func (cl *Client) ClosePort(ctx context.Context, p Port) error {
	_, err := cl.run(ctx, call{cmd: "close-port", args: []string{p.String()}})
	return err
}

// OpenedPorts runs `opened-ports --format=json`.
func (cl *Client) OpenedPorts(ctx context.Context) ([]Port, error) {
	list, err := cl.stringList(ctx, "opened-ports", jsonFormat)
	if err != nil {
		return nil, err
	}
	ports := make([]Port, 0, len(list))
	for _, s := range list {
		p, err := ParsePort(s)
		if err != nil {
			return nil, fmt.Errorf("parsing opened-ports output: %w", err)
		}
		ports = append(ports, p)
	}
	return ports, nil
}

// StateGet runs `state-get --format=json`.
func (cl *Client) StateGet(ctx context.Context) (map[string]string, error) {
	return cl.stringMap(ctx, "state-get", jsonFormat)
}

// StateSet runs `state-set --file -` with the data as JSON on stdin.
func (cl *Client) StateSet(ctx context.Context, data map[string]string) error {
	stdin, err := json.Marshal(nonNil(data))
	if err != nil {
		return fmt.Errorf("encoding state: %w", err)
	}
	_, err = cl.run(ctx, call{cmd: "state-set", args: []string{"--file", "-"}, stdin: stdin})
	return err
}

// StateDelete runs `state-delete <key>`.
func (cl *Client) StateDelete(ctx context.Context, key string) error {
	_, err := cl.run(ctx, call{cmd: "state-delete", args: []string{key}})
	return err
}

// SecretAdd runs `secret-add [flags] --file <tmp>`, the content in a 0600
// temporary file removed afterwards, and returns the new secret's URI.
func (cl *Client) SecretAdd(ctx context.Context, content map[string]string, opts SecretAddOptions) (string, error) {
	args := optionArgs(
		"--label", opts.Label,
		"--description", opts.Description,
		"--expire", opts.Expire,
		"--rotate", opts.Rotate,
		"--owner", string(opts.Owner))
	var out []byte
	err := withContentFile(content, func(path string) error {
		var err error
		out, err = cl.run(ctx, call{cmd: "secret-add", args: append(args, "--file", path)})
		return err
	})
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// SecretGet runs `secret-get --format=json [<id>] [--label L] [--peek|--refresh]`.
func (cl *Client) SecretGet(ctx context.Context, id string, opts SecretGetOptions) (map[string]string, error) {
	args := []string{jsonFormat}
	if id != "" {
		args = append(args, id)
	}
	args = append(args, optionArgs("--label", opts.Label)...)
	if opts.Peek {
		args = append(args, "--peek")
	}
	if opts.Refresh {
		args = append(args, "--refresh")
	}
	return cl.stringMap(ctx, "secret-get", args...)
}

// SecretSet runs `secret-set <id> [flags] [--file <tmp>]`.
func (cl *Client) SecretSet(ctx context.Context, id string, content map[string]string, opts SecretSetOptions) error {
	args := append([]string{id}, optionArgs(
		"--label", opts.Label,
		"--description", opts.Description,
		"--expire", opts.Expire,
		"--rotate", opts.Rotate)...)
	if content == nil {
		_, err := cl.run(ctx, call{cmd: "secret-set", args: args})
		return err
	}
	return withContentFile(content, func(path string) error {
		_, err := cl.run(ctx, call{cmd: "secret-set", args: append(args, "--file", path)})
		return err
	})
}

// SecretGrant runs `secret-grant <id> -r <relation> [--unit <unit>]`.
func (cl *Client) SecretGrant(ctx context.Context, id, relationID, unit string) error {
	args := append([]string{id, "-r", relationID}, optionArgs("--unit", unit)...)
	_, err := cl.run(ctx, call{cmd: "secret-grant", args: args})
	return err
}

// SecretRevoke runs `secret-revoke <id> [-r rel | --app A | --unit U]`.
func (cl *Client) SecretRevoke(ctx context.Context, id string, opts SecretRevokeOptions) error {
	args := append([]string{id}, optionArgs(
		"-r", opts.RelationID,
		"--app", opts.App,
		"--unit", opts.Unit)...)
	_, err := cl.run(ctx, call{cmd: "secret-revoke", args: args})
	return err
}

// SecretRemove runs `secret-remove <id> [--revision N]`.
func (cl *Client) SecretRemove(ctx context.Context, id string, revision int) error {
	args := []string{id}
	if revision > 0 {
		args = append(args, "--revision", strconv.Itoa(revision))
	}
	_, err := cl.run(ctx, call{cmd: "secret-remove", args: args})
	return err
}

// SecretIDs runs `secret-ids --format=json`.
func (cl *Client) SecretIDs(ctx context.Context) ([]string, error) {
	return cl.stringList(ctx, "secret-ids", jsonFormat)
}

// SecretInfoGet runs `secret-info-get --format=json <id> | --label L`.
func (cl *Client) SecretInfoGet(ctx context.Context, id, label string) (map[string]SecretInfo, error) {
	args := []string{jsonFormat}
	if id != "" {
		args = append(args, id)
	}
	args = append(args, optionArgs("--label", label)...)
	info := map[string]SecretInfo{}
	if err := cl.runJSON(ctx, call{cmd: "secret-info-get", args: args}, &info); err != nil {
		return nil, err
	}
	return info, nil
}

// StorageGet runs `storage-get --format=json [-s id]`.
func (cl *Client) StorageGet(ctx context.Context, id string) (StorageInfo, error) {
	args := append([]string{jsonFormat}, optionArgs("-s", id)...)
	var info StorageInfo
	err := cl.runJSON(ctx, call{cmd: "storage-get", args: args}, &info)
	return info, err
}

// StorageList runs `storage-list --format=json [<name>]`.
func (cl *Client) StorageList(ctx context.Context, name string) ([]string, error) {
	args := []string{jsonFormat}
	if name != "" {
		args = append(args, name)
	}
	return cl.stringList(ctx, "storage-list", args...)
}

// GoalState runs `goal-state --format=json`.
func (cl *Client) GoalState(ctx context.Context) (GoalState, error) {
	var g GoalState
	err := cl.runJSON(ctx, call{cmd: "goal-state", args: []string{jsonFormat}}, &g)
	return g, err
}

func (cl *Client) stringList(ctx context.Context, cmd string, args ...string) ([]string, error) {
	var list []string
	if err := cl.runJSON(ctx, call{cmd: cmd, args: args}, &list); err != nil {
		return nil, err
	}
	if list == nil {
		list = []string{}
	}
	return list, nil
}

func (cl *Client) stringMap(ctx context.Context, cmd string, args ...string) (map[string]string, error) {
	m := map[string]string{}
	if err := cl.runJSON(ctx, call{cmd: cmd, args: args}, &m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]string{}
	}
	return m, nil
}

// keyValueArgs renders data as sorted key=value arguments.
func keyValueArgs(data map[string]string) []string {
	args := make([]string, 0, len(data))
	for k, v := range data {
		args = append(args, k+"="+v)
	}
	sort.Strings(args)
	return args
}

// optionArgs takes flag, value pairs and keeps those with a value.
func optionArgs(pairs ...string) []string {
	var args []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			args = append(args, pairs[i], pairs[i+1])
		}
	}
	return args
}

// withContentFile writes content as JSON (which is YAML) to a 0600
// temporary file, runs fn with its path and removes it.
func withContentFile(content map[string]string, fn func(path string) error) error {
	data, err := json.Marshal(nonNil(content))
	if err != nil {
		return fmt.Errorf("encoding secret content: %w", err)
	}
	f, err := os.CreateTemp("", "juju-secret-*.json")
	if err != nil {
		return fmt.Errorf("creating secret content file: %w", err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("creating secret content file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing secret content file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing secret content file: %w", err)
	}
	return fn(f.Name())
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
