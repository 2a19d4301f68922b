package charmdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Charm is a charm read from a directory.
type Charm struct {
	Dir      string
	Meta     Metadata
	Config   ConfigSpec
	Actions  ActionsSpec
	Manifest Manifest
	// HasManifest tells whether manifest.yaml was present.
	HasManifest bool
	// Version is the content of the "version" file, if any.
	Version string
}

// Read reads and validates the charm in dir: metadata.yaml (required),
// config.yaml, actions.yaml and manifest.yaml (optional). Errors carry
// Juju's file annotations, e.g. `parsing "metadata.yaml" file: metadata:
// name: expected string, got nothing`.
func Read(dir string) (*Charm, error) {
	c := &Charm{Dir: dir}
	data, err := os.ReadFile(filepath.Join(dir, "metadata.yaml"))
	if err != nil {
		return nil, fmt.Errorf(`reading "metadata.yaml" file: %w`, err)
	}
	md, err := ParseMetadata(data)
	if err != nil {
		return nil, fmt.Errorf(`parsing "metadata.yaml" file: %w`, err)
	}
	c.Meta = *md

	if data, ok, err := readOptional(dir, "manifest.yaml"); err != nil {
		return nil, err
	} else if ok {
		mf, err := ParseManifest(data)
		if err != nil {
			return nil, fmt.Errorf(`parsing "manifest.yaml" file: %w`, err)
		}
		c.Manifest = *mf
		c.HasManifest = true
	}

	c.Config = ConfigSpec{Options: map[string]Option{}}
	if data, ok, err := readOptional(dir, "config.yaml"); err != nil {
		return nil, err
	} else if ok {
		cfg, err := ParseConfig(data)
		if err != nil {
			return nil, fmt.Errorf(`parsing "config.yaml" file: %w`, err)
		}
		c.Config = *cfg
	}

	c.Actions = ActionsSpec{Actions: map[string]ActionSpec{}}
	if data, ok, err := readOptional(dir, "actions.yaml"); err != nil {
		return nil, err
	} else if ok {
		acts, err := ParseActions(c.Meta.Name, data)
		if err != nil {
			return nil, fmt.Errorf(`parsing "actions.yaml" file: %w`, err)
		}
		c.Actions = *acts
	}

	if data, ok, err := readOptional(dir, "version"); err != nil {
		return nil, err
	} else if ok {
		c.Version = strings.TrimSpace(string(data))
	}
	return c, nil
}

func readOptional(dir, name string) ([]byte, bool, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading %q file: %w", name, err)
	}
	return data, true, nil
}

// seriesChannels maps Ubuntu series names to base channels, for charms
// that only have metadata "series".
var seriesChannels = map[string]string{
	"focal": "20.04", "jammy": "22.04", "noble": "24.04", "bionic": "18.04",
}

// Bases returns the charm's bases: manifest.yaml's, else metadata
// "series" converted (3.6's fallback), else the error 3.6 gives on deploy
// without --base: `charm does not define any bases`.
func (c *Charm) Bases() ([]Base, error) {
	if len(c.Manifest.Bases) > 0 {
		return c.Manifest.Bases, nil
	}
	var out []Base
	for _, s := range c.Meta.Series {
		if ch, ok := seriesChannels[s]; ok {
			out = append(out, Base{Name: "ubuntu", Channel: ch})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("charm does not define any bases")
	}
	return out, nil
}
