package hooktools

import (
	"strings"
	"testing"
	"time"
)

const sid = "secret:cj4s2b3p0s8c73aa6k5g"

func TestSecretAdd(t *testing.T) {
	runCases(t, []toolCase{
		{name: "secret-add by the leader prints the new URI (§2.3 secrets)",
			fake: leaderFake, tool: "secret-add", args: []string{"password=hunter2", "--label", "db-password"},
			stdout: "secret://cf6cbd5e-7d3a-4d6e-8f5a-0d8c1f2b3a4c/cj4s2b3p0s8c73aa6k60\n",
			calls:  []string{`secret-add label="db-password" desc="" expire="" rotate="" owner=application password=hunter2`}},
		{name: "secret-add of an app secret by a non-leader fails (§2.3 secrets)",
			tool: "secret-add", args: []string{"password=x"}, code: 1, stderr: "ERROR this unit is not the leader\n"},
		{name: "secret-add --owner unit works on any unit (§2.3 secrets)",
			tool: "secret-add", args: []string{"--owner", "unit", "--rotate", "monthly", "--description", "d", "tok=a=b"},
			stdout: "secret://cf6cbd5e-7d3a-4d6e-8f5a-0d8c1f2b3a4c/cj4s2b3p0s8c73aa6k60\n",
			calls:  []string{`secret-add label="" desc="d" expire="" rotate="monthly" owner=unit tok=a=b`}},
		{name: "key#base64 values are decoded (§2.3 secrets)",
			tool: "secret-add", args: []string{"--owner=unit", "cert#base64=aGVsbG8="},
			stdout: "secret://cf6cbd5e-7d3a-4d6e-8f5a-0d8c1f2b3a4c/cj4s2b3p0s8c73aa6k60\n",
			calls:  []string{`secret-add label="" desc="" expire="" rotate="" owner=unit cert=hello`}},
		{name: "key#file values are read relative to the client's directory (§2.3 secrets)",
			tool: "secret-add", args: []string{"--owner=unit", "cert#file=c.pem"}, in: Input{Dir: writeFile(t, "c.pem", "PEM")},
			stdout: "secret://cf6cbd5e-7d3a-4d6e-8f5a-0d8c1f2b3a4c/cj4s2b3p0s8c73aa6k60\n",
			calls:  []string{`secret-add label="" desc="" expire="" rotate="" owner=unit cert=PEM`}},
		{name: "--file reads YAML content (§2.3 secrets)",
			tool: "secret-add", args: []string{"--owner=unit", "--file", "s.yaml"}, in: Input{Dir: writeFile(t, "s.yaml", "user: pg\npass#base64: aGk=\n")},
			stdout: "secret://cf6cbd5e-7d3a-4d6e-8f5a-0d8c1f2b3a4c/cj4s2b3p0s8c73aa6k60\n",
			calls:  []string{`secret-add label="" desc="" expire="" rotate="" owner=unit pass=hi user=pg`}},
		{name: "--expire as RFC3339 is passed as UTC RFC3339 (§2.3 secrets)",
			tool: "secret-add", args: []string{"--owner=unit", "--expire", "2030-01-02T03:04:05+01:00", "key-1=v"},
			stdout: "secret://cf6cbd5e-7d3a-4d6e-8f5a-0d8c1f2b3a4c/cj4s2b3p0s8c73aa6k60\n",
			calls:  []string{`secret-add label="" desc="" expire="2030-01-02T02:04:05Z" rotate="" owner=unit key-1=v`}},
		{name: "--expire as a duration is added to now (§2.3 secrets)",
			tool: "secret-add", args: []string{"--owner=unit", "--expire", "24h", "key=v"},
			stdout: "secret://cf6cbd5e-7d3a-4d6e-8f5a-0d8c1f2b3a4c/cj4s2b3p0s8c73aa6k60\n",
			check: func(t *testing.T, f *fakeContext, r Result) {
				_, rest, _ := strings.Cut(f.calls[0], `expire="`)
				exp, err := time.Parse(time.RFC3339, rest[:strings.Index(rest, `"`)])
				if d := time.Until(exp); err != nil || d < 23*time.Hour || d > 25*time.Hour {
					t.Errorf("expire %q: %v", rest, err)
				}
			}},
		{name: "no value and no file is a usage error (§2.3 secrets)",
			tool: "secret-add", code: 2, stderr: "ERROR missing secret value or filename\n"},
		{name: "an unknown rotate policy is a usage error (§2.3 secrets)",
			tool: "secret-add", args: []string{"--rotate", "foo", "a=b"}, code: 2, stderr: "ERROR rotate policy \"foo\" not valid\n"},
		{name: "an unknown owner is a usage error (§2.3 secrets)",
			tool: "secret-add", args: []string{"--owner", "model", "key=b"}, code: 2, stderr: "ERROR secret owner \"model\" not valid\n"},
		{name: "a bad expiry is a usage error (§2.3 secrets)",
			tool: "secret-add", args: []string{"--expire", "soon", "key=b"}, code: 2, stderr: "ERROR expire time or duration \"soon\" not valid\n"},
		{name: "a negative duration is a usage error (§2.3 secrets)",
			tool: "secret-add", args: []string{"--expire", "-1h", "key=b"}, code: 2, stderr: "ERROR negative expire duration \"-1h\" not valid\n"},
		{name: "a key shorter than three characters is not valid (§2.3 secrets)",
			tool: "secret-add", args: []string{"ab=1"}, code: 2, stderr: "ERROR key \"ab\" not valid\n"},
		{name: "an argument without a value is not a key value (§2.3 secrets)",
			tool: "secret-add", args: []string{"key="}, code: 2, stderr: "ERROR key value \"key=\" not valid\n"},
		{name: "an empty file is an empty secret value (§2.3 secrets)",
			tool: "secret-add", args: []string{"--file", "e.yaml"}, in: Input{Dir: writeFile(t, "e.yaml", "{}\n")}, code: 1,
			stderr: "ERROR empty secret value not valid\n"},
	})
}

func TestSecretGetSetAndAccess(t *testing.T) {
	info := func() *fakeContext {
		f := newFake()
		f.secretInfo = map[string]SecretInfo{"cj4s2b3p0s8c73aa6k5g": {Revision: 3, Label: "db", Owner: "application", Rotation: "monthly",
			Access: []SecretAccess{{Target: "application-pg-client", Scope: "relation-db.3", Role: "view"}}}}
		return f
	}
	runCases(t, []toolCase{
		{name: "secret-get prints YAML by default (§2.3 secrets)",
			tool: "secret-get", args: []string{sid}, stdout: "password: hunter2\nuser: pg\n"},
		{name: "secret-get json (§2.3 secrets)",
			tool: "secret-get", args: []string{sid, "--format", "json"}, stdout: `{"password":"hunter2","user":"pg"}` + "\n"},
		{name: "secret-get refuses the smart format (§2.3 secrets)",
			tool: "secret-get", args: []string{sid, "--format", "smart"}, code: 2,
			stderr: "ERROR invalid value \"smart\" for option --format: unknown format \"smart\"\n"},
		{name: "secret-get of a key (§2.3 secrets)",
			tool: "secret-get", args: []string{sid, "user"}, stdout: "pg\n"},
		{name: "secret-get of key#base64 encodes (§2.3 secrets)",
			tool: "secret-get", args: []string{sid, "user#base64"}, stdout: "cGc=\n"},
		{name: "secret-get of a missing key is a run error (§2.3 secrets)",
			tool: "secret-get", args: []string{sid, "nope"}, code: 1, stderr: "ERROR secret key \"nope\" not found\n"},
		{name: "secret-get passes --refresh and the label (§2.3 secrets)",
			tool: "secret-get", args: []string{sid, "--refresh", "--label", "db"}, stdout: "password: hunter2\nuser: pg\n",
			calls: []string{`secret-get ` + sid + ` label="db" peek=false refresh=true`}},
		{name: "secret-get --peek and --refresh together is a usage error (§2.3 secrets)",
			tool: "secret-get", args: []string{sid, "--peek", "--refresh"}, code: 2,
			stderr: "ERROR specify one of --peek or --refresh but not both\n"},
		{name: "secret-get needs an id or a label (§2.3 secrets)",
			tool: "secret-get", code: 2, stderr: "ERROR require either a secret URI or label\n"},
		{name: "secret-get of a malformed URI is a usage error (§2.3 secrets)",
			tool: "secret-get", args: []string{"secret:nope"}, code: 2, stderr: "ERROR secret URI \"secret:nope\" not valid\n"},
		{name: "secret-set updates content and metadata (§2.3 secrets)",
			tool: "secret-set", args: []string{"secret://cf6cbd5e-7d3a-4d6e-8f5a-0d8c1f2b3a4c/cj4s2b3p0s8c73aa6k5g", "--label", "l", "pass=x"},
			calls: []string{"secret-set secret://cf6cbd5e-7d3a-4d6e-8f5a-0d8c1f2b3a4c/cj4s2b3p0s8c73aa6k5g label=l desc=<nil> expire=<nil> rotate=<nil> pass=x"}},
		{name: "secret-set without an id is a usage error (§2.3 secrets)",
			tool: "secret-set", code: 2, stderr: "ERROR missing secret URI\n"},
		{name: "secret-remove of one revision (§2.3 secrets)",
			tool: "secret-remove", args: []string{sid, "--revision", "2"}, calls: []string{"secret-remove " + sid + " 2"}},
		{name: "secret-remove --revision=N (§2.3 secrets)",
			tool: "secret-remove", args: []string{"--revision=3", sid}, calls: []string{"secret-remove " + sid + " 3"}},
		{name: "secret-remove of all revisions (§2.3 secrets)",
			tool: "secret-remove", args: []string{"cj4s2b3p0s8c73aa6k5g"}, calls: []string{"secret-remove cj4s2b3p0s8c73aa6k5g 0"}},
		{name: "secret-remove with a bad revision is a bad flag value (§2.1)",
			tool: "secret-remove", args: []string{sid, "--revision", "x"}, code: 2,
			stderr: "ERROR invalid value \"x\" for option --revision: strconv.ParseInt: parsing \"x\": invalid syntax\n"},
		{name: "secret-grant to a relation (§2.3 secrets)",
			tool: "secret-grant", args: []string{sid, "-r", "db:3", "--unit", "pg-client/1"},
			calls: []string{`secret-grant ` + sid + ` 3 "pg-client/1"`}},
		{name: "secret-grant without -r is a usage error (§2.3 secrets)",
			tool: "secret-grant", args: []string{sid}, code: 2, stderr: "ERROR no relation id specified\n"},
		{name: "secret-grant to a unit of another application is a usage error (§2.3 secrets)",
			tool: "secret-grant", args: []string{sid, "-r", "3", "--unit", "other/0"}, code: 2,
			stderr: "ERROR cannot specify unit \"other/0\" in relation to application \"pg-client\"\n"},
		{name: "secret-grant without an id is a usage error (§2.3 secrets)",
			tool: "secret-grant", code: 2, stderr: "ERROR missing secret URI\n"},
		{name: "secret-revoke by relation revokes the remote application (§2.3 secrets)",
			tool: "secret-revoke", args: []string{sid, "-r", "3"}, calls: []string{`secret-revoke ` + sid + ` 3 "pg-client" ""`}},
		{name: "secret-revoke by unit (§2.3 secrets)",
			tool: "secret-revoke", args: []string{sid, "--unit", "pg-client/0"}, calls: []string{`secret-revoke ` + sid + ` -1 "" "pg-client/0"`}},
		{name: "secret-revoke needs a target (§2.3 secrets)",
			tool: "secret-revoke", args: []string{sid}, code: 2, stderr: "ERROR missing relation or application or unit\n"},
		{name: "secret-revoke of both app and unit is a usage error (§2.3 secrets)",
			tool: "secret-revoke", args: []string{sid, "--app", "a-b", "--unit", "a-b/0"}, code: 2,
			stderr: "ERROR specify only one of application or unit\n"},
		{name: "secret-ids lists ids (§2.3 secrets)",
			tool: "secret-ids", args: []string{"--format=json"}, stdout: `["` + sid + `"]` + "\n"},
		{name: "secret-info-get prints metadata keyed by id, YAML by default (§2.3 secrets)",
			fake: info, tool: "secret-info-get", args: []string{"--label", "db"},
			stdout: "cj4s2b3p0s8c73aa6k5g:\n  revision: 3\n  label: db\n  owner: application\n  rotation: monthly\n" +
				"  access:\n  - target: application-pg-client\n    scope: relation-db.3\n    role: view\n"},
		{name: "secret-info-get json (§2.3 secrets)",
			fake: info, tool: "secret-info-get", args: []string{"--label", "db", "--format", "json"},
			stdout: `{"cj4s2b3p0s8c73aa6k5g":{"revision":3,"label":"db","owner":"application","rotation":"monthly","access":[{"target":"application-pg-client","scope":"relation-db.3","role":"view"}]}}` + "\n"},
		{name: "secret-info-get of an unknown secret is a run error (§2.3 secrets)",
			fake: info, tool: "secret-info-get", args: []string{"--label", "nope"}, code: 1, stderr: "ERROR secret \"nope\" not found\n"},
		{name: "secret-info-get with both id and label is a usage error (§2.3 secrets)",
			tool: "secret-info-get", args: []string{sid, "--label", "x"}, code: 2,
			stderr: "ERROR specify either a secret URI or label but not both\n"},
	})
}
