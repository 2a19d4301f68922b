package hooktools

import "testing"

func TestPorts(t *testing.T) {
	opened := func() *fakeContext {
		f := newFake()
		f.opened = []OpenedPort{
			{Range: PortRange{From: 8000, To: 8010, Protocol: "udp"}, Endpoints: []string{"metrics"}},
			{Range: PortRange{From: 5432, To: 5432, Protocol: "tcp"}},
			{Range: PortRange{From: 8000, To: 8010, Protocol: "udp"}, Endpoints: []string{"db"}},
			{Range: PortRange{Protocol: "icmp"}},
		}
		return f
	}
	runCases(t, []toolCase{
		{name: "open-port defaults to tcp (§2.3 open-port)",
			tool: "open-port", args: []string{"5432"}, calls: []string{"open-port [] {From:5432 To:5432 Protocol:tcp}"}},
		{name: "open-port takes a range, a protocol and endpoints (§2.3 open-port)",
			tool: "open-port", args: []string{"8000-8010/UDP", "--endpoints", "db, metrics"},
			calls: []string{"open-port [db metrics] {From:8000 To:8010 Protocol:udp}"}},
		{name: "open-port icmp has no port (§2.3 open-port)",
			tool: "open-port", args: []string{"icmp"}, calls: []string{"open-port [] {From:0 To:0 Protocol:icmp}"}},
		{name: "close-port closes (§2.3 close-port)",
			tool: "close-port", args: []string{"80/tcp"}, calls: []string{"close-port [] {From:80 To:80 Protocol:tcp}"}},
		{name: "open-port without an argument is a usage error (§2.3 open-port)",
			tool: "open-port", code: 2, stderr: "ERROR no port or range specified\n"},
		{name: "a bad protocol is a usage error (§2.3 open-port)",
			tool: "open-port", args: []string{"80/sctp"}, code: 2,
			stderr: "ERROR invalid protocol \"sctp\", expected \"tcp\", \"udp\", or \"icmp\"\n"},
		{name: "a port is not allowed with icmp (§2.3 open-port)",
			tool: "open-port", args: []string{"80/icmp"}, code: 2,
			stderr: "ERROR protocol \"icmp\" doesn't support any ports; got \"80\"\n"},
		{name: "a reversed range is a usage error (§2.3 open-port)",
			tool: "open-port", args: []string{"90-80"}, code: 2, stderr: "ERROR invalid port range 90-80/tcp\n"},
		{name: "an out of bounds port is a usage error (§2.3 open-port)",
			tool: "open-port", args: []string{"70000"}, code: 2,
			stderr: "ERROR port range bounds must be between 0 and 65535, got 70000-70000\n"},
		{name: "a non-numeric port is a usage error (§2.3 open-port)",
			tool: "open-port", args: []string{"http"}, code: 2,
			stderr: "ERROR invalid port \"http\": strconv.Atoi: parsing \"http\": invalid syntax\n"},
		{name: "opened-ports lists unique ranges sorted by protocol then port (§2.3 opened-ports)",
			fake: opened, tool: "opened-ports", stdout: "icmp\n5432/tcp\n8000-8010/udp\n"},
		{name: "opened-ports json (§2.3 opened-ports)",
			fake: opened, tool: "opened-ports", args: []string{"--format=json"}, stdout: `["icmp","5432/tcp","8000-8010/udp"]` + "\n"},
		{name: "opened-ports --endpoints shows * for all endpoints (§2.3 opened-ports)",
			fake: opened, tool: "opened-ports", args: []string{"--endpoints", "--format=json"},
			stdout: `["icmp (*)","5432/tcp (*)","8000-8010/udp (db, metrics)"]` + "\n"},
		{name: "opened-ports with nothing open is [] in json (§2.3 opened-ports)",
			tool: "opened-ports", args: []string{"--format", "json"}, stdout: "[]\n"},
	})
}

func TestState(t *testing.T) {
	runCases(t, []toolCase{
		{name: "state-get prints the whole state (§2.3 state-get)", tool: "state-get", stdout: "a: \"1\"\n"},
		{name: "state-get - prints the whole state in json (§2.3 state-get)", tool: "state-get", args: []string{"-", "--format=json"}, stdout: `{"a":"1"}` + "\n"},
		{name: "state-get of a key (§2.3 state-get)", tool: "state-get", args: []string{"a"}, stdout: "1\n"},
		{name: "state-get of a missing key prints nothing and exits 0 (§2.3 state-get)", tool: "state-get", args: []string{"b"}},
		{name: "state-get --strict of a missing key is a run error (§2.3 state-get)",
			tool: "state-get", args: []string{"--strict", "b"}, code: 1, stderr: "ERROR \"b\" not found\n"},
		{name: "state-set buffers key=value pairs (§2.3 state-set)",
			tool: "state-set", args: []string{"a=2", "b="}, calls: []string{"state-set a=2 b="}},
		{name: "state-set --file - needs stdin (§2.1 --file)",
			tool: "state-set", args: []string{"--file", "-"}, code: -1,
			check: func(t *testing.T, f *fakeContext, r Result) {
				if !r.NeedStdin {
					t.Error("NeedStdin not set")
				}
			}},
		{name: "state-set --file - reads YAML from stdin (§2.1 --file)",
			tool: "state-set", args: []string{"--file", "-", "c=3"}, in: Input{StdinSet: true, Stdin: []byte("a: x\nb: '  y'\n")},
			calls: []string{"state-set a=x b=  y c=3"}},
		{name: "state-set with a bad pair is a usage error (§2.1 key=value)",
			tool: "state-set", args: []string{"a"}, code: 2, stderr: "ERROR expected \"key=value\", got \"a\"\n"},
		{name: "state-delete deletes a key (§2.3 state-delete)",
			tool: "state-delete", args: []string{"a"}, calls: []string{"state-delete a"}},
		{name: "state-delete without a key does nothing (§2.3 state-delete)",
			tool: "state-delete", calls: []string{}},
	})
}
