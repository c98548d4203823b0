#!/usr/bin/env bash
# Backfill A/B (issue 13): scripts/bench_warehouse_backfill.sh DATA_DIR BIN [BIN...]
# For each switchboard binary in turn (give several, e.g. before after before after, to alternate
# them), backfills DATA_DIR's store (e.g. the one `BENCH_KEEP=1 scripts/bench_warehouse.sh` leaves)
# into a fresh database of one throwaway PostgreSQL (default settings, fsync on), from node start
# until the warehouse holds the whole feed. Prints wall seconds, the node's and PostgreSQL's CPU
# seconds (/proc/PID/stat), the node's VmHWM, row counts and the load average. Run as root (it runs
# PostgreSQL as the postgres user). PERF=1 also records a cpu-clock profile of the node into
# $PERF_DIR/perf-N.data (default /tmp). PG_OPTS adds server options (e.g. "-c autovacuum=off").
set -euo pipefail
DATA=$1; shift
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
WORK=$(mktemp -d); chmod 755 "$WORK"; mkdir -p "$WORK/pg"; chown postgres "$WORK/pg"
as_pg() { runuser -u postgres -- "$@"; }
as_pg "$PGBIN/initdb" -D "$WORK/pg/data" -A trust -U postgres -E UTF8 --locale=C >/dev/null
PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg "$PGBIN/pg_ctl" start -w -D "$WORK/pg/data" -l "$WORK/pg/log" -o "-p $PGPORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$WORK/pg ${PG_OPTS:-}" >/dev/null
NODE_PID=
cleanup() { [ -n "$NODE_PID" ] && kill "$NODE_PID" 2>/dev/null; wait 2>/dev/null || true; as_pg "$PGBIN/pg_ctl" stop -m fast -D "$WORK/pg/data" >/dev/null 2>&1; rm -rf "$WORK"; }
trap cleanup EXIT
sql() { as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d "$1" -Atc "$2"; }
pgcpu() { local pm; pm=$(head -1 "$WORK/pg/data/postmaster.pid"); for p in $pm $(pgrep -P $pm); do awk '{print $14+$15}' /proc/$p/stat 2>/dev/null; done | awk '{s+=$1} END {printf "%.2f", s/100}'; }
ADMIN=$(cat "$DATA/admin-token")
n=0
for BIN in "$@"; do
  n=$((n+1)); DB=bf$n
  as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres $DB
  T0=$(date +%s.%N)
  SWITCHBOARD_WAREHOUSE_URL="postgres://postgres@127.0.0.1:$PGPORT/$DB" SWITCHBOARD_LOG=${BENCH_LOG:-warn} SWITCHBOARD_USER_WRITES_PER_SEC=0 \
    "$BIN" serve --data-dir "$DATA" --listen 127.0.0.1:0 >"$WORK/node.out" 2>"$WORK/node.err" &
  NODE_PID=$!
  if [ -n "${PERF:-}" ]; then perf record -e cpu-clock -F 499 -g -p $NODE_PID -o ${PERF_DIR:-/tmp}/perf-$n.data >/dev/null 2>&1 & PERF_PID=$!; fi
  URL=
  for _ in $(seq 1 1200); do URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/node.out" | head -1 || true); [ -n "$URL" ] && break; sleep 0.05; done
  PGCPU0=$(pgcpu)
  until curl -sf "$URL/api/v1/warehouse" -H "Authorization: Bearer $ADMIN" | python3 -c 'import json,sys; s=json.load(sys.stdin); p=s["position"] or {}
sys.exit(0 if s["state"] == "following" and p.get("epoch") == s["feed_epoch"] and p.get("seq") == s["node_feed_seq"] else 1)'; do sleep 0.1; done
  T1=$(date +%s.%N)
  HWM=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' /proc/$NODE_PID/status)
  PGCPU=$(python3 -c "print(round($(pgcpu) - $PGCPU0, 1))")
  NODECPU=$(awk '{printf "%.1f", ($14+$15)/100}' /proc/$NODE_PID/stat)
  [ -n "${PERF:-}" ] && { kill -INT $PERF_PID; wait $PERF_PID || true; }
  kill -TERM $NODE_PID; wait $NODE_PID || true; NODE_PID=
  ROWS=$(sql $DB "SELECT (SELECT count(*) FROM orders)||' orders, '||(SELECT count(*) FROM order_lines)||' lines, '||(SELECT count(*) FROM order_history)||' history'")
  python3 -c "import sys; t=float('$T1')-float('$T0'); print(f'$BIN: {t:.1f} s, node cpu ${NODECPU} s, postgres cpu ${PGCPU} s, VmHWM ${HWM} MiB, $ROWS, load {open(\"/proc/loadavg\").read().split()[:3]}')"
done
