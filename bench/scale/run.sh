#!/bin/bash
# Prints the leader's update-status and config-changed durations with 1, 10
# and 30 client relations, and their slope per relation (issue 8). Needs root
# and `make deps build`; takes several minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec go run ./bench/scale -tools bin/localjuju -charm build/postgresql.charm -client build/pgclient.charm "$@"
