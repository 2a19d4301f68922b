// Package charmdir reads, validates, packs and unpacks machine charms, and
// validates config values and action parameters, the way Juju 3.6 does
// (juju/charm v12, juju/utils zip, juju/juju apiserver/charms.go). See
// §6 of shared/juju-contract.md.
//
// Reading:
//
//	Read(dir) (*Charm, error)              metadata.yaml (required), manifest.yaml,
//	                                       config.yaml, actions.yaml, version
//	ParseMetadata / ParseManifest / ParseConfig / ParseActions(charmName, data)
//	(*Charm).Bases()                       manifest bases, else metadata series
//	(*Charm).SelectBase(requested)         juju deploy's base choice and errors
//	                                       (--base ubuntu@22.04 or --series jammy)
//	Metadata.Hooks()                       every valid hook name for the charm
//
// Packaging:
//
//	Pack(srcDir, charmFile)                build tool: deterministic zip, metadata.yaml
//	                                       first then sorted entries, fixed mtime, Unix
//	                                       modes (dispatch forced 0755), symlinks as
//	                                       symlink entries (relative and in-tree only),
//	                                       .jujuignore + default ignores (.git, ...)
//	PackWith(srcDir, charmFile, PackOptions)
//	Unpack(charmFile, destDir)             upload handler + unit agent: shallowest
//	                                       metadata.yaml is the root (nested charms are
//	                                       re-rooted), modes from Unix attributes (none:
//	                                       0644), symlink and zip-slip checks, known
//	                                       hooks made executable, "revision" and
//	                                       ".juju-charm" written
//	UnpackWith(charmFile, destDir, UnpackOptions{CharmURL, Revision})
//	CopyDir(srcDir, destDir)               `juju deploy ./dir`: pack as Juju does
//	                                       (no dispatch fix-up) and unpack
//
// Config (config-get, juju config):
//
//	ConfigSpec.Defaults()
//	ConfigSpec.ParseSettings(map[string]string)      CLI strings; "" → nil (reset)
//	ConfigSpec.ParseYAMLFile(data, app)              {app: {key: value}}
//	ConfigSpec.Validate(map[string]any)              typed values
//	ConfigSpec.Effective(set, all)                   what config-get shows
//
// Values are typed string, int64, float64, bool (secret: string). Errors
// use Juju's wording: `unknown option "x"`, `option "port" expected int,
// got "abc"`.
//
// Actions (juju run):
//
//	ParseActionArgs(args)                  key=value, dotted keys nest, values
//	                                       are YAML 1.1 scalars (yaml.v2-like)
//	ParseActionParams(file, args, strings) --params file under the arguments;
//	                                       --string-args keeps values strings
//	ActionsSpec.Validate(name, params)     JSON-schema check, then defaults
//	ActionSpec.ValidateParams(params)
//
// Juju builds each action's schema as an object whose properties are
// "params", with additionalProperties defaulting to false, and validates
// with github.com/juju/gojsonschema (draft 4). That fork is not available
// here and no maintained library reproduces its messages, so this package
// implements the subset charms use (type, enum, minimum/maximum with draft-4
// exclusive flags, minLength/maxLength, pattern, required,
// additionalProperties, properties, items, minItems/maxItems, default) with
// Juju's message format:
//
//	validation failed: (root).outfile : must be of type string, given 5
//	validation failed: (root) : "outfile" property is missing and required, given {"quality":5}
//	validation failed: (root) : additional property "bar" is not allowed, given {"bar":"foo","outfile":"x"}
//
// The first three forms are taken from Juju's tests; the wording for
// enum/minimum/maximum/length/pattern failures is modelled on gojsonschema
// and not verified against a controller.
package charmdir
