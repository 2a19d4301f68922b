#!/bin/bash
# Prints the time from `integrate` until a client can connect, per client
# endpoint (issue 4), with a baseline from the same run. Needs root and
# `make deps build`.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec go run ./bench/relations -tools bin/localjuju -charm build/postgresql.charm -client build/pgclient.charm "$@"
