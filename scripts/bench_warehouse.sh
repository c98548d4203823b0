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
#  4. merges: a site node (call center `north`) takes BENCH_MERGE_ORDERS realistic orders (default
#     BENCH_MERGE_RATE × BENCH_MERGE_SECONDS) while its WAN link is down; then HQ pulls them over
#     a link held to BENCH_LINK_BYTES_PER_SEC (default BENCH_MERGE_RATE × 500 B, rate 500 by
#     default: a realistic order is about 250 B on the wire, and each frame's round trip and
#     merge add their time) by scripts/throttle_proxy.py, in frames of BENCH_MERGE_FRAME_BYTES
#     (default 131072) of documents; HQ merges them at the link's pace and feeds the warehouse: the orders/s merged,
#     and the warehouse's lag behind HQ's feed (from the merge's feed position to the PostgreSQL
#     commit) as in 3.
# Usage: scripts/bench_warehouse.sh [ORDERS] (default 10000). BENCH_RATE (orders/s, default 50)
# and BENCH_SECONDS (default 30) set the live load, BENCH_LIVE_ROUNDS (default 1) how many times
# it runs with the warehouse off and on, alternated; BENCH_MERGE_SECONDS (default BENCH_SECONDS)
# sizes the merge run; BENCH_ONLY=merge runs phase 4 alone (on an empty HQ); BENCH_LOG is the
# node's log filter (default
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
PROXY_PID=
PG_UP=
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  [ -n "$NODE_PID" ] && kill "$NODE_PID" 2>/dev/null
  [ -n "$SITE_PID" ] && kill "$SITE_PID" 2>/dev/null
  [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null
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

ONLY=${BENCH_ONLY:-}
if [ "$ONLY" = merge ]; then
  DB_URL=$(createdb backfill)
else
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

# 3. Live: the same write load with the warehouse off, then on, BENCH_LIVE_ROUNDS times
# alternated (each on a restarted node), so that the machine's noise shows beside the difference.
live() {
  "$LG" writes --url "$URL" --token "$TOKEN" --customer "$CUST" --realistic --concurrency 16 \
    --rate "$RATE" --seconds "$SECS" >"$WORK/live-$2.json" &
  local w=$!
  if [ "$1" = on ]; then "$LG" lag --url "$URL" --token "$ADMIN" --seconds "$SECS" --interval-ms 50 >"$WORK/lag-$2.json"; fi
  wait "$w"
}
LIVE_ROUNDS=${BENCH_LIVE_ROUNDS:-1}
for r in $(seq 1 "$LIVE_ROUNDS"); do
  stop_node
  start_node
  live off "off-$r"
  stop_node
  start_node "$DB_URL"
  until caught_up; do sleep 0.1; done
  live on "on-$r"
  until caught_up; do sleep 0.1; done
done
LIVE_MD=$(python3 - "$WORK" "$LIVE_ROUNDS" "$RATE" "$SECS" <<'PY'
import json, statistics, sys
work, rounds, rate, secs = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
load = lambda name: json.load(open(f"{work}/{name}.json"))
print(f"### Live: {rate} realistic orders/s ({int(rate) * 9} writes/s) at HQ for {secs} s, warehouse off and on alternated ({rounds} rounds)")
print()
print("| round | warehouse | orders/s done | write p50 ms | write p99 ms | errors | lag p50 ms | lag p99 ms | lag max ms |")
print("|---|---|---|---|---|---|---|---|---|")
med = {"off": [], "on": []}
for r in range(1, rounds + 1):
    for name in ("off", "on"):
        w = load(f"live-{name}-{r}")
        med[name].append(w)
        lag = load(f"lag-on-{r}") if name == "on" else None
        lagcols = f"{lag['lag_ms_p50']} | {lag['lag_ms_p99']} | {lag['lag_ms_max']}" if lag else " |  | "
        print(f"| {r} | {name} | {w['orders_per_second']} | {w['p50_ms']} | {w['p99_ms']} | {w['errors']} | {lagcols} |")
if rounds > 1:
    for name in ("off", "on"):
        ws = med[name]
        print(f"| median | {name} | {statistics.median(w['orders_per_second'] for w in ws)} | "
              f"{statistics.median(w['p50_ms'] for w in ws)} | {statistics.median(w['p99_ms'] for w in ws)} | "
              f"{sum(w['errors'] for w in ws)} | | | |")
print()
print("Lag: how far the warehouse trailed the node's feed, sampled every 50 ms (from the feed position to the PostgreSQL commit).")
PY
)
echo "$LIVE_MD"
echo

fi

# 4. Merges at MERGE_RATE orders/s. A site of call center `north` first takes MERGE_ORDERS
# realistic orders while its WAN link to HQ is down (HQ has none of them); then HQ pulls them in
# one session over a link held to LINK_BPS bytes/s each way by scripts/throttle_proxy.py, in
# frames of FRAME bytes of documents: HQ merges them at the link's pace (a realistic order is
# about 250 B on the wire, issue 12; the frames' round trips add their time, so the merge rate is
# measured, not assumed) while the warehouse follows. The site's own link to HQ
# points at a closed port, so every order reaches HQ through the throttled link. Reported: the
# merge rate (orders over the time HQ's feed took to take them all), the warehouse's lag behind
# HQ's feed sampled every 50 ms from the session's start until the warehouse holds the last
# merged order, and the rows in PostgreSQL.
MERGE_ORDERS=${BENCH_MERGE_ORDERS:-$((MERGE_RATE * MERGE_SECS))}
LINK_BPS=${BENCH_LINK_BYTES_PER_SEC:-$((MERGE_RATE * 500))}
FRAME=${BENCH_MERGE_FRAME_BYTES:-131072}
[ -z "$NODE_PID" ] || stop_node
export SWITCHBOARD_SYNC_FRAME_BYTES=$FRAME SWITCHBOARD_SYNC_SESSION_TIMEOUT_SECS=3600 SWITCHBOARD_REQUEST_TIMEOUT_SECS=3600
start_node "$DB_URL"
unset SWITCHBOARD_SYNC_FRAME_BYTES SWITCHBOARD_SYNC_SESSION_TIMEOUT_SECS SWITCHBOARD_REQUEST_TIMEOUT_SECS
ADMIN=$(cat "$WORK/data/admin-token")
HQ_NAME=$(api "$URL" "$ADMIN" GET /api/v1/node | python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])')
HQ_ID=$(api "$URL" "$ADMIN" GET /api/v1/node | python3 -c 'import json,sys; print(json.load(sys.stdin)["fingerprint"])')
NSETUP=$("$LG" setup --url "$URL" --admin-token "$ADMIN" --call-center north)
NTOKEN=$(echo "$NSETUP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
NCUST=$(echo "$NSETUP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["customer_id"])')
start_site
# start_proxy BYTES_PER_SEC [PORT]: the WAN link, HQ → the site's sync listener.
start_proxy() {
  python3 scripts/throttle_proxy.py "${SITE_SYNC_URL##*:}" "$1" ${2:-} >"$WORK/proxy.out" 2>&1 &
  PROXY_PID=$!
  for _ in $(seq 1 200); do
    PROXY_PORT=$(awk '/^proxy / {print $2}' "$WORK/proxy.out")
    [ -n "$PROXY_PORT" ] && return 0
    sleep 0.05
  done
  echo "the proxy did not start" >&2; cat "$WORK/proxy.out" >&2; exit 1
}
stop_proxy() { kill -TERM "$PROXY_PID"; wait "$PROXY_PID" || true; PROXY_PID=; }
start_proxy 1000000000
# Paired by node id (each certificate's fingerprint) with the scope the admin declares; mutual
# TLS 1.3 through the proxy.
SITE_ID=$(api "$SITE_URL" "$SITE_ADMIN" GET /api/v1/node | python3 -c 'import json,sys; print(json.load(sys.stdin)["fingerprint"])')
api "$URL" "$ADMIN" POST /api/v1/peers -d "{\"name\":\"site\",\"node_id\":\"$SITE_ID\",\"url\":\"https://127.0.0.1:$PROXY_PORT\",\"role\":\"site\",\"call_centers\":[\"north\"]}" >/dev/null
api "$SITE_URL" "$SITE_ADMIN" POST /api/v1/peers -d "{\"name\":\"$HQ_NAME\",\"node_id\":\"$HQ_ID\",\"url\":\"https://127.0.0.1:1\",\"role\":\"hq\",\"call_centers\":[]}" >/dev/null
# HQ gives the site north's configuration, its agent and customer, and the catalog.
for _ in $(seq 1 100); do
  api "$URL" "$ADMIN" POST '/api/v1/sync?peer=site' -d '{}' >/dev/null || true
  curl -sf "$SITE_URL/api/v1/customers/$NCUST" -H "Authorization: Bearer $NTOKEN" >/dev/null 2>&1 && break
  sleep 0.2
done
# The WAN goes down; the site takes its orders.
stop_proxy
"$LG" writes --url "$SITE_URL" --token "$NTOKEN" --customer "$NCUST" --realistic --concurrency 32 \
  --seconds 36000 --orders "$MERGE_ORDERS" >"$WORK/site.json"
until caught_up; do sleep 0.1; done
FEED0=$(status | python3 -c 'import json,sys; print(json.load(sys.stdin)["node_feed_seq"])')
BEFORE=$(sql backfill "SELECT count(*) FROM orders WHERE call_center_id = 'north'")
# The link is back, held to LINK_BPS: one session pulls everything.
start_proxy "$LINK_BPS" "$PROXY_PORT"
api "$URL" "$ADMIN" POST '/api/v1/sync?peer=site' -d '{}' >"$WORK/session.json" &
S=$!
"$LG" lag --url "$URL" --token "$ADMIN" --seconds 3600 --interval-ms 50 --until-seq $((FEED0 + MERGE_ORDERS)) >"$WORK/mlag.json"
wait "$S"
stop_proxy
until caught_up; do sleep 0.1; done
AFTER=$(sql backfill "SELECT count(*) FROM orders WHERE call_center_id = 'north'")
kill -TERM "$SITE_PID"; wait "$SITE_PID" || true; SITE_PID=
stop_node
echo "### Merges: HQ pulls $MERGE_ORDERS realistic orders from a site over a link held to $LINK_BPS B/s (warehouse on)"
echo
python3 - "$WORK" "$FEED0" "$BEFORE" "$AFTER" "$MERGE_ORDERS" "$LINK_BPS" "$FRAME" <<'PY'
import json, re, sys
work = sys.argv[1]
feed0, before, after, orders, bps, frame = (int(a) for a in sys.argv[2:8])
site = json.load(open(f"{work}/site.json"))
lag = json.load(open(f"{work}/mlag.json"))
session = json.load(open(f"{work}/session.json"))["peers"][0]
up, down = (int(x) for x in re.findall(r"^bytes (\d+) (\d+)$", open(f"{work}/proxy.out").read(), re.M)[-1])
if lag["feed_seq_last"] is None:
    sys.exit(f"the lag sampler got no answer from HQ ({lag['errors']} errors)")
merged = lag["feed_seq_last"] - feed0
secs = lag["feed_reached_ms"] / 1000 if lag["feed_reached_ms"] else lag["seconds"]
print(f"- the site took {site['orders']} orders first, with the link down ({site['orders_per_second']} orders/s; errors {site['errors']})")
print(f"- one session at HQ (frames of {frame} B of documents, link {bps} B/s each way): received {session['received_docs']} documents, "
      f"{(up + down) / max(session['received_docs'], 1):.0f} B each on the wire (both ways, TLS), ok {session['ok']}")
print(f"- **HQ merged {merged} orders in {secs:.1f} s = {merged / secs:.0f} orders/s** (its feed, from the session's start until the last merge)")
print(f"- warehouse lag behind HQ's feed (the merges' feed positions to the PostgreSQL commit), sampled every {lag['interval_ms']} ms "
      f"from the session's start until the warehouse held the last merged order ({lag['samples']} samples, {lag['seconds']} s): "
      f"**p50 {lag['lag_ms_p50']} ms, p99 {lag['lag_ms_p99']} ms**, max {lag['lag_ms_max']} ms; "
      f"in changes p50 {lag['changes_p50']}, p99 {lag['changes_p99']}, max {lag['changes_max']}")
print(f"- rows: {after - before} of the site's orders in PostgreSQL after the session (of {orders})")
PY
