package charmdir

import (
	"fmt"
	"strings"
)

// Base selection at deploy, as `juju deploy` does it for a local charm
// (juju/juju 3.6: core/charm/baseselect.go, computedbase.go; contract §6,
// manifest.yaml row).

// jujuWorkloadBases are the bases Juju 3.6 deploys workloads on.
var jujuWorkloadBases = []Base{
	{Name: "ubuntu", Channel: "20.04"},
	{Name: "ubuntu", Channel: "22.04"},
	{Name: "ubuntu", Channel: "24.04"},
}

// ParseBase parses a --base value ("ubuntu@22.04", "ubuntu@22.04/stable")
// or, for 2.9's --series, a series name ("jammy").
func ParseBase(s string) (Base, error) {
	if name, channel, ok := strings.Cut(s, "@"); ok {
		if name == "" || channel == "" {
			return Base{}, fmt.Errorf("invalid base string %q", s)
		}
		return Base{Name: name, Channel: channel}, nil
	}
	if ch, ok := seriesChannels[s]; ok {
		return Base{Name: "ubuntu", Channel: ch}, nil
	}
	return Base{}, fmt.Errorf("series %q not valid", s)
}

// track is the channel without its risk: "22.04/stable" → "22.04".
func (b Base) track() string {
	t, _, _ := strings.Cut(b.Channel, "/")
	return t
}

// compatible compares OS and track, as Juju's Base.IsCompatible.
func (b Base) compatible(o Base) bool { return b.Name == o.Name && b.track() == o.track() }

// String is Juju's Base.String: the channel carries its risk, "stable" by
// default ("ubuntu@22.04/stable"), as in Juju's error messages.
func (b Base) String() string {
	risk := "stable"
	if _, r, ok := strings.Cut(b.Channel, "/"); ok {
		risk = r
	}
	return b.Name + "@" + b.track() + "/" + risk
}

// DisplayString is Juju's Base.DisplayString: a stable risk is left out.
func (b Base) DisplayString() string {
	s := b.String()
	return strings.TrimSuffix(s, "/stable")
}

func displayBases(bs []Base) string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.DisplayString()
	}
	return strings.Join(out, ", ")
}

// SelectBase returns the base the charm is deployed on: requested (a
// --base or --series value; "" for none) when the charm declares it, else
// the charm's first base Juju supports. Errors carry Juju's messages: `charm
// does not define any bases, not valid`, `base "ubuntu@20.04/stable" is not
// supported, supported bases are: ubuntu@22.04`, `<charm> is not available
// on the following base: ubuntu@16.04/stable`.
func (c *Charm) SelectBase(requested string) (Base, error) {
	declared, err := c.Bases()
	if err != nil {
		return Base{}, fmt.Errorf("%w, not valid", err)
	}
	var supported []Base
	for _, b := range declared {
		if containsBase(jujuWorkloadBases, b) {
			supported = append(supported, b)
		}
	}
	if len(supported) == 0 {
		return Base{}, fmt.Errorf("the charm defined bases %q not supported", displayBases(declared))
	}
	if requested == "" {
		return supported[0], nil
	}
	want, err := ParseBase(requested)
	if err != nil {
		return Base{}, err
	}
	if !containsBase(jujuWorkloadBases, want) {
		return Base{}, fmt.Errorf("%s is not available on the following base: %s", c.Meta.Name, want)
	}
	if !containsBase(supported, want) {
		return Base{}, fmt.Errorf("base %q is not supported, supported bases are: %s", want.String(), displayBases(supported))
	}
	return want, nil
}

func containsBase(bs []Base, b Base) bool {
	for _, x := range bs {
		if x.compatible(b) {
			return true
		}
	}
	return false
}
