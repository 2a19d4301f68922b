package hooktools

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

func init() {
	const portArgs = "<port>[/<protocol>] or <from>-<to>[/<protocol>] or icmp"
	register("open-port", portArgs, "Register a request to open a port or port range.", func(Context) command { return &portCmd{open: true} })
	register("close-port", portArgs, "Register a request to close a port or port range.", func(Context) command { return &portCmd{} })
	register("opened-ports", "", "List all ports or port ranges opened by the unit.", func(Context) command { return &openedPorts{} })
}

// portCmd is open-port and close-port (contract §2.3).
type portCmd struct {
	open      bool
	endpoints string
	format    deprecatedFormat
	pr        PortRange
}

func (c *portCmd) setFlags(fs *flagSet) {
	c.format.setFlags(fs)
	fs.stringVar(&c.endpoints, "endpoints", "", "a comma-delimited list of application endpoints to target with this operation")
}

func (c *portCmd) init(args []string) error {
	if len(args) == 0 {
		return errors.New("no port or range specified")
	}
	pr, err := parsePortRange(strings.ToLower(args[0]))
	if err != nil {
		return err
	}
	c.pr = pr
	return checkEmpty(args[1:])
}

func (c *portCmd) run(e *env) error {
	name := "close-port"
	if c.open {
		name = "open-port"
	}
	c.format.warn(e, name)
	var endpoints []string
	if c.endpoints != "" {
		for _, ep := range strings.Split(c.endpoints, ",") {
			endpoints = append(endpoints, strings.TrimSpace(ep))
		}
	}
	if c.open {
		return e.ctx.OpenPort(endpoints, c.pr)
	}
	return e.ctx.ClosePort(endpoints, c.pr)
}

// parsePortRange is juju core/network ParsePortRange: "<port>[/proto]",
// "<from>-<to>[/proto]" or "icmp"; tcp by default. ICMP has From=To=0.
func parsePortRange(s string) (PortRange, error) {
	proto := "tcp"
	if p, q, ok := strings.Cut(s, "/"); ok {
		s, proto = p, q
	}
	var from, to int
	parts := strings.Split(s, "-")
	switch {
	case len(parts) > 2:
		return PortRange{}, fmt.Errorf("invalid port range %q", s)
	case len(parts) == 1 && parts[0] == "icmp":
		from, to, proto = -1, -1, "icmp"
	case len(parts) == 1:
		p, err := strconv.Atoi(parts[0])
		if err != nil {
			return PortRange{}, fmt.Errorf("invalid port %q: %w", s, err)
		}
		from, to = p, p
	default:
		var err error
		if from, err = strconv.Atoi(parts[0]); err != nil {
			return PortRange{}, fmt.Errorf("invalid port %q: %w", parts[0], err)
		}
		if to, err = strconv.Atoi(parts[1]); err != nil {
			return PortRange{}, fmt.Errorf("invalid port %q: %w", parts[1], err)
		}
	}
	switch proto {
	case "tcp", "udp":
	case "icmp":
		if from != -1 || to != -1 {
			return PortRange{}, fmt.Errorf(`protocol "icmp" doesn't support any ports; got "%v"`, from)
		}
		return PortRange{Protocol: "icmp"}, nil
	default:
		return PortRange{}, fmt.Errorf(`invalid protocol %q, expected "tcp", "udp", or "icmp"`, proto)
	}
	pr := PortRange{From: from, To: to, Protocol: proto}
	if from > to {
		return PortRange{}, fmt.Errorf("invalid port range %s", portString(pr))
	}
	if from < 0 || from > 65535 || to < 0 || to > 65535 {
		return PortRange{}, fmt.Errorf("port range bounds must be between 0 and 65535, got %d-%d", from, to)
	}
	return pr, nil
}

// portString is "5432/tcp", "8000-8010/udp" or "icmp".
func portString(p PortRange) string {
	proto := strings.ToLower(p.Protocol)
	if proto == "icmp" {
		return proto
	}
	if p.From == p.To {
		return fmt.Sprintf("%d/%s", p.From, proto)
	}
	return fmt.Sprintf("%d-%d/%s", p.From, p.To, proto)
}

func portLess(a, b PortRange) bool {
	if a.Protocol != b.Protocol {
		return a.Protocol < b.Protocol
	}
	if a.From != b.From {
		return a.From < b.From
	}
	return a.To < b.To
}

// openedPorts is opened-ports; with --endpoints each entry gets its
// endpoints, "*" meaning all.
type openedPorts struct {
	out       output
	endpoints bool
}

func (c *openedPorts) setFlags(fs *flagSet) {
	c.out.addFlags(fs, formatSmart, formatSmart, formatYAML, formatJSON)
	fs.boolVar(&c.endpoints, "endpoints", "display the list of target application endpoints for each port range")
}

func (c *openedPorts) init(args []string) error { return checkEmpty(args) }

func (c *openedPorts) run(e *env) error {
	opened, err := e.ctx.OpenedPorts()
	if err != nil {
		return err
	}
	byRange := map[PortRange]map[string]bool{}
	var ranges []PortRange
	for _, op := range opened {
		pr := op.Range
		pr.Protocol = strings.ToLower(pr.Protocol)
		if byRange[pr] == nil {
			byRange[pr] = map[string]bool{}
			ranges = append(ranges, pr)
		}
		if len(op.Endpoints) == 0 {
			byRange[pr][""] = true
		}
		for _, ep := range op.Endpoints {
			byRange[pr][ep] = true
		}
	}
	sort.Slice(ranges, func(i, j int) bool { return portLess(ranges[i], ranges[j]) })
	results := make([]string, len(ranges))
	for i, pr := range ranges {
		results[i] = portString(pr)
		if !c.endpoints {
			continue
		}
		eps := byRange[pr]
		descr := "*"
		if !eps[""] {
			var names []string
			for ep := range eps {
				names = append(names, ep)
			}
			sort.Strings(names)
			descr = strings.Join(names, ", ")
		}
		results[i] += " (" + descr + ")"
	}
	return c.out.write(e, results)
}
