#!/bin/bash
# Prints the postgresql charm's figures (issue 3): deploy to active for one
# unit, and a no-op dispatch of the charm binary against /bin/true. Needs
# root and `make deps build`.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec go run ./bench/charm -tools bin/localjuju -charm build/postgresql.charm "$@"
