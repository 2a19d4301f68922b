#!/bin/bash
# Runs every benchmark and prints its figures. Needs root and `make build`.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== localjuju runtime"
go run ./bench/localjuju -tools bin/localjuju
for b in bench/*/run.sh; do
  [ -x "$b" ] || continue
  echo "== $(dirname "$b")"
  "$b"
done
