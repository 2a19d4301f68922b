// Package testbuild is what the integration test packages (tests/charm,
// tests/relations, tests/ha) share: `make build` under a lock (`go test
// ./...` runs packages in parallel and each suite's TestMain builds what
// it tests; the builds rewrite the same files, so they take turns), the
// prerequisites check, and the removal of the units' host directories.
package testbuild
