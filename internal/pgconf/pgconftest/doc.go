// Package pgconftest serves tests the parameter catalogue of a real
// PostgreSQL 15 server (postgres --describe-config, kept in pgconf's
// testdata), so decisions are tested against the server's own rules.
package pgconftest
