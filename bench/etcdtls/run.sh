#!/bin/bash
# Prints what etcd TLS costs a three-unit cluster (issue 9, item 3): leader
# update-status and config-changed hook times and failover time, against
# a baseline charm from before TLS built in the same run (commit 2b5ffe2 in
# a detached worktree under /tmp). Needs root and `make deps build`.
set -euo pipefail
cd "$(dirname "$0")/../.."
base=${ETCDTLS_BASE_DIR:-/tmp/pgjuju-base-2b5ffe2}
if [ ! -f "$base/build/postgresql.charm" ]; then
  [ -d "$base" ] || git worktree add --detach "$base" 2b5ffe2 >/dev/null
  make -C "$base" build >/dev/null
fi
exec go run ./bench/etcdtls -tools bin/localjuju -base "$base/build/postgresql.charm" -charm build/postgresql.charm "$@"
