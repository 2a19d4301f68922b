package hooktools

import (
	"errors"
	"testing"
)

func TestConfigAndUnitGet(t *testing.T) {
	runCases(t, []toolCase{
		{name: "config-get prints options with a value as YAML (§2.3 config-get)",
			tool: "config-get", stdout: "name: pg\nport: 5432\ntls: false\n"},
		{name: "config-get json keeps types (§2.3 config-get)",
			tool: "config-get", args: []string{"--format=json"}, stdout: `{"name":"pg","port":5432,"tls":false}` + "\n"},
		{name: "config-get --all adds unset options as null (§2.3 config-get)",
			tool: "config-get", args: []string{"--all", "--format", "json"}, stdout: `{"empty":null,"name":"pg","port":5432,"tls":false}` + "\n"},
		{name: "config-get -a is --all and yaml shows null (§2.3 config-get)",
			tool: "config-get", args: []string{"-a", "--format", "yaml"}, stdout: "empty: null\nname: pg\nport: 5432\ntls: false\n"},
		{name: "config-get of a key prints its value (§2.3 config-get)",
			tool: "config-get", args: []string{"port"}, stdout: "5432\n"},
		{name: "config-get of a boolean key prints False in smart format (§2.1)",
			tool: "config-get", args: []string{"tls"}, stdout: "False\n"},
		{name: "config-get of an unknown key prints nothing and exits 0 (§2.3 config-get)",
			tool: "config-get", args: []string{"nope"}},
		{name: "config-get of an unknown key is null in json (§2.3 config-get)",
			tool: "config-get", args: []string{"nope", "--format=json"}, stdout: "null\n"},
		{name: "config-get with --all and a key is a usage error (§2.3 config-get)",
			tool: "config-get", args: []string{"--all", "port"}, code: 2,
			stderr: "ERROR cannot use argument --all together with key \"port\"\n"},
		{name: "config-get with two keys is a usage error (§2.1)",
			tool: "config-get", args: []string{"a", "b"}, code: 2, stderr: "ERROR unrecognized args: [\"b\"]\n"},
		{name: "unit-get private-address (§2.3 unit-get)",
			tool: "unit-get", args: []string{"private-address"}, stdout: "10.0.0.9\n"},
		{name: "unit-get public-address without one is a run error (§2.3 unit-get)",
			tool: "unit-get", args: []string{"public-address"}, code: 1, stderr: "ERROR public address not found\n"},
		{name: "unit-get of another setting is a usage error (§2.3 unit-get)",
			tool: "unit-get", args: []string{"address"}, code: 2, stderr: "ERROR unknown setting \"address\"\n"},
		{name: "unit-get without a setting is a usage error (§2.3 unit-get)",
			tool: "unit-get", code: 2, stderr: "ERROR no setting specified\n"},
		{name: "unit-get json quotes the address (§2.1)",
			tool: "unit-get", args: []string{"--format", "json", "private-address"}, stdout: "\"10.0.0.9\"\n"},
	})
}

func TestNetworkGet(t *testing.T) {
	full := `{"bind-addresses":[{"mac-address":"00:16:3e:aa:bb:cc","interface-name":"eth0","addresses":[{"hostname":"","value":"10.0.0.5","cidr":"10.0.0.0/24"}]}],"egress-subnets":["10.0.0.5/32"],"ingress-addresses":["10.0.0.5"]}` + "\n"
	runCases(t, []toolCase{
		{name: "network-get json is the full structure (§2.3 network-get)",
			tool: "network-get", args: []string{"db", "--format=json"}, stdout: full,
			calls: []string{"network-info db -1"}},
		{name: "network-get yaml adds the legacy duplicates (§2.3 network-get)",
			tool: "network-get", args: []string{"db", "--format=yaml"},
			stdout: "bind-addresses:\n- mac-address: 00:16:3e:aa:bb:cc\n  interface-name: eth0\n  addresses:\n" +
				"  - hostname: \"\"\n    value: 10.0.0.5\n    cidr: 10.0.0.0/24\n    address: 10.0.0.5\n" +
				"  macaddress: 00:16:3e:aa:bb:cc\n  interfacename: eth0\negress-subnets:\n- 10.0.0.5/32\ningress-addresses:\n- 10.0.0.5\n"},
		{name: "network-get with one selector prints the bare value (§2.3 network-get)",
			tool: "network-get", args: []string{"db", "--ingress-address"}, stdout: "10.0.0.5\n"},
		{name: "network-get --egress-subnets alone is a list (§2.3 network-get)",
			tool: "network-get", args: []string{"--egress-subnets", "db", "--format=json"}, stdout: `["10.0.0.5/32"]` + "\n"},
		{name: "network-get with several selectors prints a map (§2.3 network-get)",
			tool: "network-get", args: []string{"db", "--bind-address", "--ingress-address", "--egress-subnets", "--format=json"},
			stdout: `{"bind-address":"10.0.0.5","egress-subnets":["10.0.0.5/32"],"ingress-address":"10.0.0.5"}` + "\n"},
		{name: "network-get passes -r and defaults it to the hook relation (§2.1, §2.3 network-get)",
			fake: relHook(3, "pg-client/0"), tool: "network-get", args: []string{"db", "--bind-address"},
			stdout: "10.0.0.5\n", calls: []string{"network-info db 3"}},
		{name: "network-get without arguments is a usage error (§2.3 network-get)",
			tool: "network-get", code: 2, stderr: "ERROR no arguments specified\n"},
		{name: "network-get of an unknown binding is a run error (§2.3 network-get)",
			tool: "network-get", args: []string{"nope"}, code: 1,
			stderr: "ERROR no network config found for binding \"nope\"\n"},
		{name: "a Context error from network-get is a run error (§2.1)",
			fake: func() *fakeContext { f := newFake(); f.failWith = errors.New("boom"); return f },
			tool: "network-get", args: []string{"db"}, code: 1, stderr: "ERROR boom\n"},
	})
}
