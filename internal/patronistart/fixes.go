package patronistart

import _ "embed"

// SiteCustomize is the Python module that fixes Patroni 3.0.2's leader-key
// bug (see the file): the charm writes it, root-owned and read-only, into
// a directory on Patroni's PYTHONPATH (pgconf.Layout.PatroniPythonDir),
// where Python imports it at start-up.
//
//go:embed sitecustomize.py
var SiteCustomize []byte
