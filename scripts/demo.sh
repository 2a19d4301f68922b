#!/bin/bash
# Demo (`make demo`, after `make deps build`): a fresh localjuju model with one
# postgresql unit deployed from build/postgresql.charm and a client
# application (the pgclient test charm, build/pgclient.charm) related to it on
# `database` (postgresql_client); waits until both are active, adds two
# units that become hot standbys, shows status,
# prints the connection the client got (its check action writes and reads a
# row with it), fetches the operator password with the get-password action and
# runs one query with psql from the unit's machine. The model is left running.
# Needs root (localjuju machines are network namespaces).
#
# Environment: LOCALJUJU_HOME (default /tmp/localjuju-demo),
# DEMO_TIMEOUT (seconds to wait for active, default 300).
set -euo pipefail
cd "$(dirname "$0")/.."

export LOCALJUJU_HOME="${LOCALJUJU_HOME:-/tmp/localjuju-demo}"
timeout="${DEMO_TIMEOUT:-300}"
lj=bin/localjuju
app=postgresql
unit=$app/0

client=myapp
cunit=$client/0

for f in "$lj" build/postgresql.charm build/pgclient.charm; do
  if [ ! -e "$f" ]; then
    echo "demo: $f missing: run 'make build' first" >&2
    exit 1
  fi
done
if [ "$(id -u)" -ne 0 ]; then
  echo "demo: needs root (localjuju machines are network namespaces)" >&2
  exit 1
fi

# unit_field <unit> <python expression over u, the unit's status> prints it.
unit_field() {
  "$lj" status --format json | python3 -c '
import json, sys
u = json.load(sys.stdin).get("applications", {}).get(sys.argv[1], {}).get("units", {}).get(sys.argv[2], {})
print(eval(sys.argv[3]))' "${1%%/*}" "$1" "$2"
}

# wait_active <unit> waits until the unit's workload is active, printing
# each new status; on error or timeout it prints the unit's log and fails.
wait_active() {
  local u=$1 deadline=$((SECONDS + timeout)) last="" state agent workload message
  while :; do
    state=$(unit_field "$u" '"|".join([u.get("juju-status", {}).get("current", ""), u.get("workload-status", {}).get("current", ""), u.get("workload-status", {}).get("message", "")])')
    IFS='|' read -r agent workload message <<<"$state" || true
    if [ "$state" != "$last" ]; then
      echo "  $u: $workload${message:+: $message}"
      last=$state
    fi
    if [ "$workload" = active ]; then
      return 0
    fi
    if [ "$agent" = error ] || [ "$workload" = error ] || [ $SECONDS -ge $deadline ]; then
      echo "demo: $u did not become active (agent $agent, workload $workload${message:+: $message})" >&2
      "$lj" debug-log --replay --no-tail --include "$u" -n 60 >&2 || true
      echo "the model is left running for inspection; destroy it with: LOCALJUJU_HOME=$LOCALJUJU_HOME $lj destroy" >&2
      exit 1
    fi
    sleep 1
  done
}

echo "== model in $LOCALJUJU_HOME"
if [ -e "$LOCALJUJU_HOME/model.json" ] || [ -S "$LOCALJUJU_HOME/controller.sock" ]; then
  echo "destroying the previous demo model"
  "$lj" destroy
fi

echo "== deploying $app from build/postgresql.charm"
"$lj" deploy ./build/postgresql.charm "$app"

echo "== waiting until $unit is active (up to ${timeout}s)"
wait_active "$unit"

echo "== deploying the client $client (pgclient test charm) and relating it on database"
"$lj" deploy ./build/pgclient.charm "$client"
"$lj" integrate "$app:database" "$client:database"
echo "== waiting until $cunit has connected (up to ${timeout}s)"
wait_active "$cunit"
"$lj" wait-idle --timeout "${timeout}s"

echo "== adding two units: they join etcd and become hot standbys of $unit"
"$lj" add-unit "$app" -n 2
wait_active "$app/1"
wait_active "$app/2"
"$lj" wait-idle --timeout "${timeout}s"

echo
"$lj" status --relations
echo

echo "== the connection $cunit got: $lj run $cunit check"
"$lj" run "$cunit" check --format json | python3 -c '
import json, sys
r = json.load(sys.stdin)[sys.argv[1]]
if r.get("status") != "completed":
    sys.exit("check failed: %s" % r.get("message", r.get("status")))
for x in json.loads(r["results"]["results"]):
    if not x.get("ok"):
        sys.exit("%s: %s" % (x["relation"], x.get("error") or x.get("waiting")))
    print("  %s (%s): postgresql://%s@%s:%s/%s; wrote and read back row %s of table %s" % (
        x["relation"], x["endpoint"], x["user"], x["host"], x["port"], x["database"], x.get("row-id"), x.get("table")))' "$cunit"

addr=$(unit_field "$unit" 'u["public-address"]')
port=$("$lj" config "$app" listen_port)
echo "== operator password: $lj run $unit get-password username=operator, then show-secret --reveal"
# get-password names the secret that holds the password (action-set's
# arguments are readable by any local user), as Juju 3 does.
read -r secret key < <("$lj" run "$unit" get-password username=operator --format json | python3 -c '
import json, sys
r = json.load(sys.stdin)[sys.argv[1]]
if r.get("status") != "completed":
    sys.exit("get-password failed: %s" % r.get("message", r.get("status")))
print(r["results"]["secret-id"], r["results"]["secret-key"])' "$unit")
PGPASSWORD=$("$lj" show-secret "$secret" --reveal --format json | python3 -c '
import json, sys
shown = json.load(sys.stdin)
print(next(iter(shown.values()))["content"][sys.argv[1]])' "$key")
export PGPASSWORD
echo "  (fetched; not shown here)"

conninfo="host=$addr port=$port user=operator dbname=postgres"
echo "== SELECT version() with psql from $unit's machine"
# As with juju ssh, the command is one string the machine's shell parses.
"$lj" ssh "$unit" -- "psql '$conninfo' -X -A -t -c 'SELECT version()'"

cat <<EOF

The model is left running. To connect with psql from the unit's machine:

  export LOCALJUJU_HOME=$LOCALJUJU_HOME
  $lj run $unit get-password username=operator     # prints secret-id and secret-key
  export PGPASSWORD=\$($lj show-secret $secret --reveal --format json | python3 -c 'import json,sys; print(next(iter(json.load(sys.stdin).values()))["content"]["$key"])')
  $lj ssh $unit -- "psql '$conninfo'"

The client's own credentials (a Juju secret granted to its relation):

  $lj run $cunit check reveal-credentials=true --format json

To destroy it:

  LOCALJUJU_HOME=$LOCALJUJU_HOME $lj destroy
EOF
