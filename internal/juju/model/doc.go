// Package model is the charm's typed view of its Juju model: its unit and
// application, relations with their databags, config, secrets, leadership
// and storage, over the juju.Backend interface (the hook-tool client in a
// hook, jujutest.Fake in tests).
//
// Juju's databag rules (contract §4) are enforced here, before any tool
// runs, as ops does in RelationDataContent._validate_write_access:
// writing the application databag needs the leader (juju.ErrNotLeader), a
// non-leader may not read its own application databag in a non-peer
// relation (juju.ErrPermissionDenied), and remote databags are read-only
// (ErrReadOnly). Leadership and config are read once per dispatch.
//
// Every secret value the model reads or creates, and every databag value
// under a secret-looking key, is registered with the Redactor so the
// juju-log handler hides it.
package model
