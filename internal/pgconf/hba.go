package pgconf

import (
	"fmt"
	"net/netip"
	"strings"
)

// HBA authentication methods the charm writes and accepts. Only
// password-based scram-sha-256 and reject: no trust (DESIGN §7), no md5 or
// password (weaker, and password_encryption is scram-sha-256 anyway), and no
// peer or ident, because they map operating-system users to roles and units
// that share a machine share its users, so a peer rule written for one unit
// would admit every co-located unit's processes.
const (
	MethodScram  = "scram-sha-256"
	MethodReject = "reject"
)

// HBARule is one pg_hba.conf line.
type HBARule struct {
	Type     string // local, host, hostssl, hostnossl, hostgssenc, hostnogssenc
	Database string // as in pg_hba.conf: all, replication, a comma list, ...
	User     string
	Address  string // CIDR; empty for local
	Method   string
	Options  []string
}

// String renders the rule as a pg_hba.conf line with aligned columns.
func (r HBARule) String() string {
	addr := r.Address
	s := fmt.Sprintf("%-9s %-12s %-12s %-18s %s", r.Type, r.Database, r.User, addr, r.Method)
	if len(r.Options) > 0 {
		s += " " + strings.Join(r.Options, " ")
	}
	return s
}

// ParseHBA parses extra_pg_auth: pg_hba.conf lines, one rule per line ('#'
// starts a comment). Only newlines separate rules, because pg_hba.conf
// itself uses commas inside the database and user columns.
// Rules must use scram-sha-256 or reject, name addresses as CIDRs (no
// hostnames, all, samehost or samenet: the rules say exactly who), and may
// not include other files (@file, include).
func ParseHBA(text string) ([]HBARule, error) {
	var out []HBARule
	for i, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
		if j := strings.IndexByte(line, '#'); j >= 0 && !strings.Contains(line[:j], `"`) {
			line = strings.TrimSpace(line[:j])
		}
		if line == "" {
			continue
		}
		r, err := parseHBALine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", i+1, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func parseHBALine(line string) (HBARule, error) {
	toks, err := hbaTokens(line)
	if err != nil {
		return HBARule{}, err
	}
	if t := strings.ToLower(toks[0]); strings.HasPrefix(t, "include") {
		return HBARule{}, fmt.Errorf("%s is not allowed", t)
	}
	if len(toks) < 4 {
		return HBARule{}, fmt.Errorf("%q: want \"type database user address method\"", line)
	}
	r := HBARule{Type: strings.ToLower(toks[0]), Database: toks[1], User: toks[2]}
	rest := toks[3:]
	switch r.Type {
	case "local":
	case "host", "hostssl", "hostnossl", "hostgssenc", "hostnogssenc":
		if len(rest) < 2 {
			return HBARule{}, fmt.Errorf("%q: want \"type database user address method\"", line)
		}
		p, err := netip.ParsePrefix(rest[0])
		if err != nil || p.Addr().Zone() != "" {
			return HBARule{}, fmt.Errorf("address %q is not a CIDR (hostnames, all, samehost and samenet are not allowed)", rest[0])
		}
		r.Address = p.Masked().String()
		rest = rest[1:]
	case "include", "include_if_exists", "include_dir":
		return HBARule{}, fmt.Errorf("%s is not allowed", r.Type)
	default:
		return HBARule{}, fmt.Errorf("unknown connection type %q", toks[0])
	}
	r.Method = strings.ToLower(rest[0])
	switch r.Method {
	case MethodScram, MethodReject:
	case "trust":
		return HBARule{}, fmt.Errorf("trust is refused: use scram-sha-256")
	default:
		return HBARule{}, fmt.Errorf("method %s is refused: use scram-sha-256 or reject", rest[0])
	}
	for _, o := range rest[1:] {
		if !strings.HasPrefix(o, "clientcert=") {
			return HBARule{}, fmt.Errorf("option %q is not allowed (only clientcert=)", o)
		}
		switch strings.TrimPrefix(o, "clientcert=") {
		case "verify-ca", "verify-full":
		default:
			return HBARule{}, fmt.Errorf("option %q: clientcert is verify-ca or verify-full", o)
		}
		r.Options = append(r.Options, o)
	}
	for _, t := range []string{r.Database, r.User} {
		if strings.HasPrefix(t, "@") || strings.Contains(t, ",@") {
			return HBARule{}, fmt.Errorf("%q: @file inclusion is not allowed", t)
		}
	}
	return r, nil
}

// hbaTokens splits a line into whitespace-separated tokens, keeping
// double-quoted parts (which may hold spaces) inside their token.
func hbaTokens(line string) ([]string, error) {
	var toks []string
	var cur strings.Builder
	in, has := false, false
	for _, c := range line {
		switch {
		case c < 0x20 && c != '\t' || c == 0x7f:
			return nil, fmt.Errorf("control characters are not allowed")
		case c == '"':
			in = !in
			has = true
			cur.WriteRune(c)
		case !in && (c == ' ' || c == '\t'):
			if has {
				toks = append(toks, cur.String())
				cur.Reset()
				has = false
			}
		default:
			cur.WriteRune(c)
			has = true
		}
	}
	if in {
		return nil, fmt.Errorf("unterminated quote")
	}
	if has {
		toks = append(toks, cur.String())
	}
	return toks, nil
}

// hostPrefix is the single-host CIDR of an address: /32 or /128.
func hostPrefix(a netip.Addr) string {
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()).String()
}

// RenderHBARules returns the unit's pg_hba rules in order. pg_hba stops at
// the first matching line, so the charm's rules come first and the user's
// extra_pg_auth last: a user's reject line can never lock out replication
// or the charm itself.
//
//   - local sockets: every role, scram-sha-256 (the socket directory is the
//     unit's own);
//   - the unit's own address: the operator (the charm and Patroni);
//   - every peer (including this unit): replication and rewind, and the
//     operator (Patroni on a replica checks the primary as the superuser);
//   - admin_addresses: every database and role, with a password;
//   - client relations (clients), then extra_pg_auth.
func RenderHBARules(self netip.Addr, peers []netip.Addr, admin []netip.Prefix, clients, extra []HBARule) []HBARule {
	rules := []HBARule{
		{Type: "local", Database: "all", User: "all", Method: MethodScram},
		{Type: "host", Database: "all", User: OperatorUser, Address: hostPrefix(self), Method: MethodScram},
	}
	for _, p := range sortedAddrs(append([]netip.Addr{self}, peers...)) {
		a := hostPrefix(p)
		rules = append(rules,
			HBARule{Type: "host", Database: "replication", User: ReplicationUser, Address: a, Method: MethodScram},
			HBARule{Type: "host", Database: "all", User: RewindUser, Address: a, Method: MethodScram},
		)
		if p != self {
			rules = append(rules, HBARule{Type: "host", Database: "all", User: OperatorUser, Address: a, Method: MethodScram})
		}
	}
	for _, p := range admin {
		rules = append(rules, HBARule{Type: "host", Database: "all", User: "all", Address: p.String(), Method: MethodScram})
	}
	rules = append(rules, clients...)
	rules = append(rules, extra...)
	return rules
}

// sortedAddrs returns the addresses sorted, without duplicates.
func sortedAddrs(in []netip.Addr) []netip.Addr {
	seen := map[netip.Addr]bool{}
	var out []netip.Addr
	for _, a := range in {
		a = a.Unmap()
		if a.IsValid() && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Less(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
