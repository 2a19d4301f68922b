package hooktools

import (
	"errors"
	"fmt"
)

func init() {
	register("network-get", "<binding-name> [--ingress-address] [--bind-address] [--egress-subnets]", "get network config",
		func(ctx Context) command { return &networkGet{rel: newRelationFlag(ctx)} })
}

// networkGet is network-get (contract §2.3).
type networkGet struct {
	rel            *relationFlag
	out            output
	binding        string
	primary        bool
	bindAddress    bool
	ingressAddress bool
	egressSubnets  bool
	keys           []string
}

const (
	bindAddressKey    = "bind-address"
	ingressAddressKey = "ingress-address"
	egressSubnetsKey  = "egress-subnets"
)

func (c *networkGet) setFlags(fs *flagSet) {
	c.out.addFlags(fs, formatSmart, formatSmart, formatYAML, formatJSON)
	fs.boolVar(&c.primary, "primary-address", "(deprecated) get the primary address for the binding")
	fs.boolVar(&c.bindAddress, bindAddressKey, "get the address for the binding on which the unit should listen")
	fs.boolVar(&c.ingressAddress, ingressAddressKey, "get the ingress address for the binding")
	fs.boolVar(&c.egressSubnets, egressSubnetsKey, "get the egress subnets for the binding")
	c.rel.addFlags(fs, "specify a relation by id")
}

func (c *networkGet) init(args []string) error {
	if len(args) < 1 {
		return errors.New("no arguments specified")
	}
	c.binding = args[0]
	if c.binding == "" {
		return errors.New("no binding name specified")
	}
	if c.bindAddress {
		c.keys = append(c.keys, bindAddressKey)
	}
	if c.ingressAddress {
		c.keys = append(c.keys, ingressAddressKey)
	}
	if c.egressSubnets {
		c.keys = append(c.keys, egressSubnetsKey)
	}
	return checkEmpty(args[1:])
}

// Display types: JSON as NetworkInfo; YAML adds the legacy duplicates
// macaddress, interfacename and address that Juju still emits.
type addrDisplay struct {
	Hostname string `json:"hostname" yaml:"hostname"`
	Value    string `json:"value" yaml:"value"`
	CIDR     string `json:"cidr" yaml:"cidr"`
	AddressX string `json:"-" yaml:"address"`
}

type ifaceDisplay struct {
	MACAddress     string        `json:"mac-address" yaml:"mac-address"`
	InterfaceName  string        `json:"interface-name" yaml:"interface-name"`
	Addresses      []addrDisplay `json:"addresses" yaml:"addresses"`
	MACAddressX    string        `json:"-" yaml:"macaddress"`
	InterfaceNameX string        `json:"-" yaml:"interfacename"`
}

type networkDisplay struct {
	BindAddresses    []ifaceDisplay `json:"bind-addresses,omitempty" yaml:"bind-addresses,omitempty"`
	EgressSubnets    []string       `json:"egress-subnets,omitempty" yaml:"egress-subnets,omitempty"`
	IngressAddresses []string       `json:"ingress-addresses,omitempty" yaml:"ingress-addresses,omitempty"`
}

func toNetworkDisplay(ni NetworkInfo) networkDisplay {
	d := networkDisplay{
		EgressSubnets:    append([]string{}, ni.EgressSubnets...),
		IngressAddresses: append([]string{}, ni.IngressAddresses...),
	}
	for _, b := range ni.BindAddresses {
		id := ifaceDisplay{
			MACAddress: b.MACAddress, InterfaceName: b.InterfaceName,
			MACAddressX: b.MACAddress, InterfaceNameX: b.InterfaceName,
			Addresses: []addrDisplay{},
		}
		for _, a := range b.Addresses {
			id.Addresses = append(id.Addresses, addrDisplay{Hostname: a.Hostname, Value: a.Value, CIDR: a.CIDR, AddressX: a.Value})
		}
		d.BindAddresses = append(d.BindAddresses, id)
	}
	return d
}

func (c *networkGet) run(e *env) error {
	ni, err := e.ctx.NetworkInfo(c.binding, c.rel.id)
	if err != nil {
		return err
	}
	if len(ni.BindAddresses) == 0 {
		return fmt.Errorf("no network config found for binding %q", c.binding)
	}
	if !c.primary && len(c.keys) == 0 {
		return c.out.write(e, toNetworkDisplay(ni))
	}
	first := ni.BindAddresses[0].Addresses
	noAddr := fmt.Errorf("no addresses attached to space for binding %q", c.binding)
	if c.primary {
		if len(c.keys) > 0 {
			return errors.New("--primary-address must be the only flag specified")
		}
		if len(first) == 0 {
			return noAddr
		}
		return c.out.write(e, first[0].Value)
	}
	values := map[string]any{}
	if c.egressSubnets {
		subnets := ni.EgressSubnets
		if subnets == nil {
			subnets = []string{}
		}
		values[egressSubnetsKey] = subnets
	}
	if c.ingressAddress {
		switch {
		case len(ni.IngressAddresses) > 0:
			values[ingressAddressKey] = ni.IngressAddresses[0]
		case len(first) > 0:
			values[ingressAddressKey] = first[0].Value
		default:
			return noAddr
		}
	}
	if c.bindAddress {
		if len(first) == 0 {
			return noAddr
		}
		values[bindAddressKey] = first[0].Value
	}
	if len(c.keys) == 1 {
		return c.out.write(e, values[c.keys[0]])
	}
	return c.out.write(e, values)
}
