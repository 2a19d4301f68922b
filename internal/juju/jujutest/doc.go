// Package jujutest has an in-memory fake of juju.Backend and a
// state-in/state-out harness for handler tests, in the style of ops'
// scenario: an immutable State (config, leader, relations with both sides'
// databags, secrets, storage, statuses, juju-log lines) goes in, one event
// is dispatched, a State comes out.
//
// The fake copies Juju's rules (contract §2 and §4): an empty value deletes,
// the application databag is leader-only, transactional tools (relation-set,
// state-set, ports, secrets) are discarded when the handler fails while
// immediate ones (status-set, juju-log, leader-set, application-version-set)
// stay. The harness refuses impossible input (an endpoint, config key,
// storage or action the charm does not declare).
//
// It is a FAKE for tests: it must never be used in production.
package jujutest
