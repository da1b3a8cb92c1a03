#!/usr/bin/env bash
# The demo campaign SQLite -> PostgreSQL -> SQLite with `primer store copy` (each copy checks
# row counts and the content hash), then `top`, `show` and `lineage` of the best candidate on
# each store: the three digests printed last must be equal.
#   experiments/coordination/copy-roundtrip.sh [CHECKOUT]   (run as root; a finished demo.db there)
# Starts a throwaway PostgreSQL server (Debian's, as the tests do) and stops it at the end.
set -euo pipefail
cd "${1:-$(dirname "$0")/../..}"
P=./target/release/primer
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
DIR=$(mktemp -d /tmp/primer-pg.XXXXXX); chown postgres:postgres "$DIR"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
runuser -u postgres -- "$BIN/initdb" -D "$DIR/data" -U primer --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
runuser -u postgres -- "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR" start >/dev/null
trap 'runuser -u postgres -- "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null; rm -rf "$DIR"' EXIT
"$BIN/createdb" -h 127.0.0.1 -p $PORT -U primer demo
PG="postgres://primer@127.0.0.1:$PORT/demo"
rm -f /tmp/demo-back.db
$P store copy sqlite://demo.db "$PG" --campaign demo
$P store copy "$PG" sqlite:///tmp/demo-back.db --campaign demo
BEST=$($P top demo -k 1 --db sqlite://demo.db --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["candidate"])')
for db in sqlite://demo.db "$PG" sqlite:///tmp/demo-back.db; do
  { $P top demo -k 10 --db "$db"; $P show "$BEST" --db "$db"; $P lineage "$BEST" --db "$db"; } | sha256sum
done
