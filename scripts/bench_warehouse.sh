#!/usr/bin/env bash
# Warehouse benchmarks (issue 13), release build:
#  1. a node without a warehouse takes ORDERS realistic orders over HTTP (each: create, 5 lines,
#     2 payments, 1 hold = 9 durable writes);
#  2. it restarts with SWITCHBOARD_WAREHOUSE_URL on a fresh PostgreSQL database and backfills:
#     time from process start until the warehouse holds the whole feed, orders/s, rows written,
#     the node's peak resident memory;
#  3. live: the same realistic write load at a fixed rate, with the warehouse off and then on:
#     write latency both ways, and how far the warehouse trails the node's feed (in changes and in
#     milliseconds, sampled every 50 ms by `switchboard-loadgen lag`);
#  4. merges: a site node (call center `north`) takes realistic orders at BENCH_MERGE_RATE
#     (default 500 orders/s) from the load generator and syncs with HQ every second; HQ merges
#     them and feeds the warehouse: the orders/s merged, and the warehouse's lag behind HQ's feed
#     (from the merge's feed position to the PostgreSQL commit) as in 3.
# Usage: scripts/bench_warehouse.sh [ORDERS] (default 10000). BENCH_RATE (orders/s, default 50)
# and BENCH_SECONDS (default 30) set the live load; BENCH_MERGE_SECONDS (default BENCH_SECONDS)
# the merge run; BENCH_LOG is the node's log filter (default
# warn), BENCH_KEEP=1 keeps the work dir; SKIP_BUILD=1 with SWITCHBOARD_BIN / LOADGEN_BIN runs
# other binaries (e.g. debug builds, to try the script). Needs PostgreSQL's server binaries (Debian's
# `postgresql`; SWITCHBOARD_PG_BIN points elsewhere). Prints Markdown for BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ORDERS=${1:-10000}
RATE=${BENCH_RATE:-50}
SECS=${BENCH_SECONDS:-30}
MERGE_RATE=${BENCH_MERGE_RATE:-500}
MERGE_SECS=${BENCH_MERGE_SECONDS:-$SECS}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --bin switchboard --bin switchboard-loadgen >&2
TARGET=${CARGO_TARGET_DIR:-target}
BIN=${SWITCHBOARD_BIN:-$TARGET/release/switchboard}
LG=${LOADGEN_BIN:-$TARGET/release/switchboard-loadgen}
PGBIN=${SWITCHBOARD_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$PGBIN/initdb" ] || { echo "no PostgreSQL server binaries (apt-get install -y postgresql)" >&2; exit 1; }
WORK=$(mktemp -d)
chmod 755 "$WORK"
NODE_PID=
SITE_PID=
PG_UP=
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  [ -n "$NODE_PID" ] && kill "$NODE_PID" 2>/dev/null
  [ -n "$SITE_PID" ] && kill "$SITE_PID" 2>/dev/null
  wait 2>/dev/null || true
  [ -n "$PG_UP" ] && as_pg "$PGBIN/pg_ctl" stop -m fast -D "$WORK/pg/data" >/dev/null 2>&1
  if [ -n "${BENCH_KEEP:-}" ]; then echo "kept $WORK (node log: $WORK/node.err)" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# PostgreSQL on a free port, default settings (fsync on).
mkdir -p "$WORK/pg"
[ "$(id -u)" = 0 ] && chown postgres "$WORK/pg"
as_pg "$PGBIN/initdb" -D "$WORK/pg/data" -A trust -U postgres -E UTF8 --locale=C >/dev/null
PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg "$PGBIN/pg_ctl" start -w -D "$WORK/pg/data" -l "$WORK/pg/log" \
  -o "-p $PGPORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$WORK/pg ${BENCH_PG_OPTS:-}" >/dev/null
PG_UP=1
createdb() { as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres "$1"; echo "postgres://postgres@127.0.0.1:$PGPORT/$1"; }
sql() { as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d "$1" -Atc "$2"; }
PGVERSION=$(sql postgres 'SHOW server_version')

# start_node [WAREHOUSE_URL]: serves the data dir on a free port; sets URL, NODE_PID, T_START.
start_node() {
  T_START=$(date +%s.%N)
  SWITCHBOARD_WAREHOUSE_URL="${1:-}" SWITCHBOARD_LOG="${BENCH_LOG:-warn}" SWITCHBOARD_USER_WRITES_PER_SEC=0 \
    "$BIN" serve --data-dir "$WORK/data" --listen 127.0.0.1:0 --sync-listen 127.0.0.1:0 \
    >"$WORK/node.out" 2>>"$WORK/node.err" &
  NODE_PID=$!
  for _ in $(seq 1 1200); do
    URL=$(grep -o '^listening on http://127.0.0.1:[0-9]*' "$WORK/node.out" | head -1 | sed 's/^listening on //' || true)
    SYNC_URL=$(grep -o '^peers listening on https://127.0.0.1:[0-9]*' "$WORK/node.out" | head -1 | sed 's/^peers listening on //' || true)
    if [ -n "$URL" ] && [ -n "$SYNC_URL" ] && curl -sf "$URL/readyz" >/dev/null 2>&1; then return 0; fi
    sleep 0.05
  done
  echo "node did not become ready" >&2; cat "$WORK/node.err" >&2; exit 1
}
stop_node() { kill -TERM "$NODE_PID"; wait "$NODE_PID" || true; NODE_PID=; }
# start_site: a site node of call center `north` on its own data dir, syncing with its peers
# every second; sets SITE_URL, SITE_PID, SITE_ADMIN.
start_site() {
  SWITCHBOARD_NAME=site SWITCHBOARD_ROLE=site SWITCHBOARD_CALL_CENTERS=north \
    SWITCHBOARD_SYNC_INTERVAL_SECS=1 SWITCHBOARD_LOG="${BENCH_LOG:-warn}" SWITCHBOARD_USER_WRITES_PER_SEC=0 \
    "$BIN" serve --data-dir "$WORK/site" --listen 127.0.0.1:0 --sync-listen 127.0.0.1:0 \
    >"$WORK/site.out" 2>>"$WORK/site.err" &
  SITE_PID=$!
  for _ in $(seq 1 1200); do
    SITE_URL=$(grep -o '^listening on http://127.0.0.1:[0-9]*' "$WORK/site.out" | head -1 | sed 's/^listening on //' || true)
    SITE_SYNC_URL=$(grep -o '^peers listening on https://127.0.0.1:[0-9]*' "$WORK/site.out" | head -1 | sed 's/^peers listening on //' || true)
    if [ -n "$SITE_URL" ] && [ -n "$SITE_SYNC_URL" ] && curl -sf "$SITE_URL/readyz" >/dev/null 2>&1; then
      SITE_ADMIN=$(cat "$WORK/site/admin-token"); return 0
    fi
    sleep 0.05
  done
  echo "site did not become ready" >&2; cat "$WORK/site.err" >&2; exit 1
}
api() { local url=$1 tok=$2 method=$3 path=$4; shift 4
  curl -sf -X "$method" "$url$path" -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' "$@"; }
status() { curl -sf "$URL/api/v1/warehouse" -H "Authorization: Bearer $ADMIN"; }
caught_up() {
  status | python3 -c 'import json,sys; s=json.load(sys.stdin); p=s["position"] or {}
sys.exit(0 if s["state"] == "following" and p.get("epoch") == s["feed_epoch"] and p.get("seq") == s["node_feed_seq"] else 1)'
}

echo "## Warehouse (issue 13)"
echo
echo "Command: \`scripts/bench_warehouse.sh $ORDERS\` (release build; BENCH_RATE=$RATE, BENCH_SECONDS=$SECS), $(date -u +%Y-%m-%d)."
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(lscpu | awk -F: '/Model name/ {gsub(/^ +/,"",$2); print $2}'); PostgreSQL $PGVERSION on the same machine (default settings, fsync on), node and load generator on the same cores."
echo

# 1. Fill a store without a warehouse.
start_node
ADMIN=$(cat "$WORK/data/admin-token")
SETUP=$("$LG" setup --url "$URL" --admin-token "$ADMIN")
TOKEN=$(echo "$SETUP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
CUST=$(echo "$SETUP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["customer_id"])')
FILL=$("$LG" writes --url "$URL" --token "$TOKEN" --customer "$CUST" --realistic --concurrency 32 \
  --seconds 36000 --orders "$ORDERS")
FEED=$(status | python3 -c 'import json,sys; print(json.load(sys.stdin)["node_feed_seq"])')
stop_node

# 2. Backfill into a fresh database.
DB_URL=$(createdb backfill)
start_node "$DB_URL"
until caught_up; do sleep 0.1; done
T_DONE=$(date +%s.%N)
HWM=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$NODE_PID/status")
ROWS=$(sql backfill "SELECT (SELECT count(*) FROM orders) || ' orders, ' || (SELECT count(*) FROM order_lines) || ' lines, ' || (SELECT count(*) FROM order_payments) || ' payments, ' || (SELECT count(*) FROM order_holds) || ' holds, ' || (SELECT count(*) FROM order_history) || ' history rows'")
DBSIZE=$(sql backfill "SELECT pg_size_pretty(pg_database_size('backfill'))")
DOCS=$(sql backfill "SELECT count(*) FROM documents")
echo "### Backfill of a store of $ORDERS realistic orders"
echo
python3 - "$FILL" "$T_START" "$T_DONE" "$ORDERS" "$FEED" "$DOCS" <<'PY'
import json, sys
fill = json.loads(sys.argv[1]); t = float(sys.argv[3]) - float(sys.argv[2])
orders, feed, docs = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
print(f"- filling the store over HTTP (warehouse off, 32 clients): {fill['orders']} orders, {fill['orders_per_second']} orders/s, write p50 {fill['p50_ms']} ms, p99 {fill['p99_ms']} ms, errors {fill['errors']}")
print(f"- backfill, from process start until the warehouse holds the whole feed ({docs} documents, {feed} changes): **{t:.1f} s = {orders / t:.0f} orders/s** ({docs / t:.0f} documents/s)")
PY
echo "- rows written: $ROWS; database size $DBSIZE"
echo "- node peak resident memory during the backfill (VmHWM): $HWM MiB"
echo

# 3. Live: the same write load with the warehouse off, then on.
live() {
  "$LG" writes --url "$URL" --token "$TOKEN" --customer "$CUST" --realistic --concurrency 16 \
    --rate "$RATE" --seconds "$SECS" >"$WORK/live.json" &
  local w=$!
  if [ -n "${1:-}" ]; then "$LG" lag --url "$URL" --token "$ADMIN" --seconds "$SECS" --interval-ms 50 >"$WORK/lag.json"; fi
  wait "$w"
}
stop_node
start_node
live
OFF=$(cat "$WORK/live.json")
stop_node
start_node "$DB_URL"
until caught_up; do sleep 0.1; done
live on
ON=$(cat "$WORK/live.json")
LAG=$(cat "$WORK/lag.json")
until caught_up; do sleep 0.1; done
LIVE_MD=$(python3 - "$OFF" "$ON" "$LAG" "$RATE" "$SECS" <<'PY'
import json, sys
off, on, lag = (json.loads(a) for a in sys.argv[1:4])
rate, secs = sys.argv[4:6]
print(f"### Live: {rate} realistic orders/s ({int(rate) * 9} writes/s) at HQ for {secs} s")
print()
print("| warehouse | orders/s done | write p50 ms | write p99 ms | errors |")
print("|---|---|---|---|---|")
for name, r in (("off", off), ("on", on)):
    print(f"| {name} | {r['orders_per_second']} | {r['p50_ms']} | {r['p99_ms']} | {r['errors']} |")
print()
print(f"Warehouse lag behind the node's feed, sampled every {lag['interval_ms']} ms ({lag['samples']} samples): "
      f"p50 {lag['lag_ms_p50']} ms, p99 {lag['lag_ms_p99']} ms, max {lag['lag_ms_max']} ms; "
      f"in changes (feed sequence numbers) p50 {lag['changes_p50']}, p99 {lag['changes_p99']}, max {lag['changes_max']}.")
PY
)
echo "$LIVE_MD"
echo

# 4. Merges: a site of call center `north` takes the realistic load and syncs every second; HQ
# (warehouse on) merges and feeds PostgreSQL.
HQ_NAME=$(api "$URL" "$ADMIN" GET /api/v1/node | python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])')
HQ_ID=$(api "$URL" "$ADMIN" GET /api/v1/node | python3 -c 'import json,sys; print(json.load(sys.stdin)["fingerprint"])')
NSETUP=$("$LG" setup --url "$URL" --admin-token "$ADMIN" --call-center north)
NTOKEN=$(echo "$NSETUP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
NCUST=$(echo "$NSETUP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["customer_id"])')
start_site
# Paired by node id (each certificate's fingerprint) with the scope the admin declares; mutual
# TLS 1.3 between the two sync listeners.
SITE_ID=$(api "$SITE_URL" "$SITE_ADMIN" GET /api/v1/node | python3 -c 'import json,sys; print(json.load(sys.stdin)["fingerprint"])')
api "$URL" "$ADMIN" POST /api/v1/peers -d "{\"name\":\"site\",\"node_id\":\"$SITE_ID\",\"url\":\"$SITE_SYNC_URL\",\"role\":\"site\",\"call_centers\":[\"north\"]}" >/dev/null
api "$SITE_URL" "$SITE_ADMIN" POST /api/v1/peers -d "{\"name\":\"$HQ_NAME\",\"node_id\":\"$HQ_ID\",\"url\":\"$SYNC_URL\",\"role\":\"hq\",\"call_centers\":[]}" >/dev/null
# The site gets north's configuration, its agent and customer, and the catalog.
for _ in $(seq 1 100); do
  api "$SITE_URL" "$SITE_ADMIN" POST /api/v1/sync -d '{}' >/dev/null || true
  curl -sf "$SITE_URL/api/v1/customers/$NCUST" -H "Authorization: Bearer $NTOKEN" >/dev/null 2>&1 && break
  sleep 0.2
done
until caught_up; do sleep 0.1; done
BEFORE=$(sql backfill "SELECT count(*) FROM orders WHERE call_center_id = 'north'")
"$LG" writes --url "$SITE_URL" --token "$NTOKEN" --customer "$NCUST" --realistic --concurrency 32 \
  --rate "$MERGE_RATE" --seconds "$MERGE_SECS" >"$WORK/site.json" &
W=$!
"$LG" lag --url "$URL" --token "$ADMIN" --seconds "$MERGE_SECS" --interval-ms 50 >"$WORK/mlag.json"
wait "$W"
MERGED_IN_RUN=$(sql backfill "SELECT count(*) FROM orders WHERE call_center_id = 'north'")
# Then the last second's orders: one more session, and the warehouse catches up.
api "$SITE_URL" "$SITE_ADMIN" POST /api/v1/sync -d '{}' >/dev/null || true
until caught_up; do sleep 0.1; done
AFTER=$(sql backfill "SELECT count(*) FROM orders WHERE call_center_id = 'north'")
kill -TERM "$SITE_PID"; wait "$SITE_PID" || true; SITE_PID=
stop_node
echo "### Merges: a site takes realistic orders at $MERGE_RATE orders/s for $MERGE_SECS s, HQ merges them (warehouse on)"
echo
python3 - "$(cat "$WORK/site.json")" "$(cat "$WORK/mlag.json")" "$BEFORE" "$MERGED_IN_RUN" "$AFTER" "$MERGE_SECS" <<'PY'
import json, sys
site, lag = json.loads(sys.argv[1]), json.loads(sys.argv[2])
before, during, after, secs = (int(a) for a in sys.argv[3:7])
print(f"- the site took {site['orders']} orders ({site['orders_per_second']} orders/s; write p50 {site['p50_ms']} ms, p99 {site['p99_ms']} ms, errors {site['errors']})")
print(f"- HQ merged and the warehouse held {during - before} of them by the end of the {secs} s run "
      f"(**{(during - before) / secs:.0f} orders/s merged**), all {after - before} after one last session")
print(f"- warehouse lag behind HQ's feed (the merges' feed positions to the PostgreSQL commit), sampled every {lag['interval_ms']} ms ({lag['samples']} samples): "
      f"**p50 {lag['lag_ms_p50']} ms, p99 {lag['lag_ms_p99']} ms**, max {lag['lag_ms_max']} ms; "
      f"in changes p50 {lag['changes_p50']}, p99 {lag['changes_p99']}, max {lag['changes_max']}")
PY
