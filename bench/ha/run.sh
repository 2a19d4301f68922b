#!/bin/bash
# Prints the three-unit cluster's figures: add-unit until the new unit
# streams, and after the primary's machine is killed, until a new Patroni
# leader takes writes and until its unit status says Primary; baselines from
# the same run. Needs root and `make deps build`.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec go run ./bench/ha -tools bin/localjuju -charm build/postgresql.charm -client-charm build/pgclient.charm "$@"
