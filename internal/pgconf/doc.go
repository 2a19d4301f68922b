// Package pgconf is the pure half of the workload: it validates the charm's
// configuration options and renders every file a unit runs with
// (patroni.yml with its pg_hba rules, the etcd configuration), from the
// templates embedded in package templates.
//
// Nothing here touches the machine: no files, no exec, no clock, no
// randomness. Inputs are values, outputs are strings and plans, so the whole
// package is covered by table tests, golden files and a fuzz test.
//
// Invariants:
//   - Rendering is deterministic: maps are emitted in sorted key order and
//     lists are sorted by the renderer before they reach a template.
//   - Every value printed into YAML goes through one escape function
//     (yamlQuote), so no option value can add keys to a rendered file.
//   - Charm-owned PostgreSQL parameters (FixedParameters) can never be set
//     through extra_pg_conf.
//   - The rendered pg_hba never contains trust and only ever scram-sha-256
//     or reject rules.
package pgconf
