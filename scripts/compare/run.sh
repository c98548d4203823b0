#!/usr/bin/env bash
# Sync on realistic orders, side by side (issue 12): pouchdb-server 4.2.0 against two Switchboard
# nodes (a site and an HQ, real `switchboard serve` processes), on the same orders, in one run.
#
# Needs: the README's set-up (a Rust toolchain; the script builds the release binaries) plus
# Node.js with npm (tested with Node.js 20). pouchdb-server comes from npm, pinned by
# scripts/compare/package.json and package-lock.json (`npm ci` runs here when node_modules is
# missing). Loopback only.
#
# Usage: scripts/compare/run.sh [ORDERS]     (default 10000)
#   COMPARE_CONCURRENCY=16   writing clients, the same for both
#   SKIP_BUILD=1             use the binaries as they are
#   SWITCHBOARD_BIN=…, LOADGEN_BIN=…   other binaries (default: $CARGO_TARGET_DIR or target,
#                            release/switchboard and release/switchboard-loadgen)
#   KEEP_WORK=1              keep the work directory (data dirs, logs, the orders file)
#   COMPARE_PROFILE=DIR      also record a CPU profile of both nodes during the Switchboard
#                            catch-up (`perf record -e cpu-clock`, call graphs by DWARF) into
#                            DIR/hq.perf.data and DIR/site.perf.data (`perf report -i …`)
#   COMPARE_ONLY=switchboard only the Switchboard side (for before/after runs of a change)
#   COMPARE_RESULTS=DIR      also keep the raw results (pouchdb.json, switchboard.json) in DIR
#   SWITCHBOARD_LOG=…        the nodes' log filter (e.g. switchboard_node=debug), logs in the
#                            work directory
# Prints Markdown to stdout (progress to stderr); paste it into BENCHMARKS.md.
#
# What runs, in this order:
# 1. Switchboard: an HQ and a site (call center `bench`) are created, configured at HQ
#    (`switchboard-loadgen setup`), paired (`pair_nodes` below, the one place that knows how
#    peers authenticate) and synced once by HQ, so the site holds the configuration, the agent
#    and the customer. The site then takes ORDERS realistic orders through its HTTP API
#    (`switchboard-loadgen writes --realistic`: create, 5 lines, 2 payments, 1 hold; nine
#    durable, acknowledged writes per order). HQ holds none of them: the site's own link to HQ
#    points at a closed port, so its background sessions (started by local changes) fail. The
#    catch-up is one `POST /api/v1/sync?peer=site` at HQ (HQ pulls from the site, as the
#    PouchDB target pulls from its source), timed until it answers; HQ is checked to hold every
#    order.
# 2. The site's orders are exported (`switchboard export --format jsonl`, the final order views)
#    and PouchDB takes the same orders: each is written to the source pouchdb-server as nine
#    revisions (create, then one per line, payment and hold; the last is the final view), by
#    the same number of clients (scripts/compare/pouch_writes.js). The catch-up is one
#    `POST /_replicate` on the empty target server pulling from the source over HTTP (PouchDB's
#    HTTP client asks for gzip, pouchdb-server compresses its answers), timed until it answers;
#    the target is checked to hold every order. The PouchDB documents are the exported views
#    less what the node derives (totals, line totals, automatic charges, conflicts).
# In both, a counting TCP proxy (scripts/compare/proxy.js) carries the one HTTP link between the
# two replicas, in front of the server that answers the replication's requests (the site; the
# PouchDB source): bytes on the wire are both directions of that link, headers included. Disk per order
# is the growth of a data directory over the run divided by ORDERS; memory is each server
# process's peak resident set (VmHWM).
set -euo pipefail
# The whole script is one function, read before it runs: editing this file during a run is safe.
main() {
cd "$(dirname "$0")/../.."
ORDERS=${1:-10000}
C=${COMPARE_CONCURRENCY:-16}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release -p switchboard-cli -p switchboard-loadgen >&2
fi
BIN=$(realpath "${SWITCHBOARD_BIN:-$TARGET_DIR/release/switchboard}")
LG=$(realpath "${LOADGEN_BIN:-$TARGET_DIR/release/switchboard-loadgen}")
COMPARE=$(pwd)/scripts/compare
if [ ! -d "$COMPARE/node_modules/pouchdb-server" ]; then
  (cd "$COMPARE" && npm ci --no-audit --no-fund >&2)
fi
POUCHDB_SERVER="$COMPARE/node_modules/pouchdb-server/bin/pouchdb-server"

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP_WORK:-}" ]; then echo "work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
log() { echo "[compare] $*" >&2; }
now() { date +%s.%N; }
elapsed() { python3 -c "print(round($2 - $1, 3))"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {'sys': sys}, {'d': d}))" "$1"; }
kib() { du -sk "$1" | cut -f1; }
hwm_mib() { awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # URL: until it answers 2xx (bounded)
  for _ in $(seq 1 600); do
    if curl -sf "$1" >/dev/null 2>&1; then return 0; fi
    sleep 0.05
  done
  echo "no answer from $1" >&2; return 1
}

# --- the counting proxy ---------------------------------------------------------------------
PROXY_PORT= PROXY_CONTROL=
start_proxy() { # TARGET_PORT
  node "$COMPARE/proxy.js" "$1" >"$WORK/proxy-$1.out" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 200); do
    if [ -s "$WORK/proxy-$1.out" ] && read -r _ PROXY_PORT _ PROXY_CONTROL <"$WORK/proxy-$1.out" \
      && [ -n "$PROXY_CONTROL" ]; then
      return 0
    fi
    sleep 0.05
  done
  echo "proxy did not start" >&2; exit 1
}
proxy_reset() { curl -sf -X POST "http://127.0.0.1:$1/reset" >/dev/null; }
proxy_counts() { curl -sf "http://127.0.0.1:$1/"; }

# --- Switchboard ----------------------------------------------------------------------------
start_node() { # NAME: starts $WORK/NAME, sets NODE_URL, NODE_SYNC (its peers' listener) and NODE_PID
  SWITCHBOARD_USER_WRITES_PER_SEC=0 SWITCHBOARD_SYNC_INTERVAL_SECS=86400 \
    "$BIN" serve --data-dir "$WORK/$1" --listen 127.0.0.1:0 --sync-listen 127.0.0.1:0 \
    >"$WORK/$1.out" 2>"$WORK/$1.err" &
  NODE_PID=$!
  PIDS+=($NODE_PID)
  NODE_URL=
  for _ in $(seq 1 600); do
    NODE_URL=$(grep -so '^listening on http://127.0.0.1:[0-9]*' "$WORK/$1.out" | head -1 | sed 's/^listening on //' || true)
    NODE_SYNC=$(grep -so '^peers listening on https://127.0.0.1:[0-9]*' "$WORK/$1.out" | head -1 | sed 's/^peers listening on //' || true)
    if [ -n "$NODE_URL" ] && [ -n "$NODE_SYNC" ] && curl -sf "$NODE_URL/readyz" >/dev/null 2>&1; then return 0; fi
    sleep 0.05
  done
  echo "node $1 did not become ready" >&2; cat "$WORK/$1.err" >&2; exit 1
}
api() { # METHOD URL TOKEN [BODY]
  curl -sf -X "$1" -H "Authorization: Bearer $3" -H 'content-type: application/json' \
    ${4:+--data "$4"} "$2"
}

# Pairs two nodes for sync: FROM (url, admin token) learns TO as peer NAME at PEER_URL (TO's
# sync listener, https), pinned by TO's node id (its certificate's fingerprint) with the role and
# call centers the admin declares (SECURITY.md); mutual TLS 1.3 between the two.
pair_nodes() { # FROM_URL FROM_TOKEN NAME PEER_URL TO_ID TO_ROLE [CALL_CENTER]
  "$BIN" peers add --url "$1" --token "$2" --name "$3" --peer-url "$4" \
    --node-id "$5" --role "$6" ${7:+--call-center "$7"} >/dev/null
}

log "switchboard: $BIN ($("$BIN" --version 2>/dev/null || echo '?'))"
mkdir -p "$WORK/probe"
FSYNC=$("$LG" fsync --dir "$WORK/probe" --seconds 3)
"$BIN" init --name hq --role hq --data-dir "$WORK/hq" >/dev/null
"$BIN" init --name site --role site --call-center bench --data-dir "$WORK/site" >/dev/null
start_node hq; HQ=$NODE_URL; HQ_SYNC=$NODE_SYNC; HQ_PID=$NODE_PID
start_node site; SITE=$NODE_URL; SITE_SYNC=$NODE_SYNC; SITE_PID=$NODE_PID
HQ_TOKEN=$(cat "$WORK/hq/admin-token"); SITE_TOKEN=$(cat "$WORK/site/admin-token")
HQ_ID=$(api GET "$HQ/api/v1/node" "$HQ_TOKEN" | json 'd["fingerprint"]')
SITE_ID=$(api GET "$SITE/api/v1/node" "$SITE_TOKEN" | json 'd["fingerprint"]')
start_proxy "${SITE_SYNC##*:}"; SB_PROXY=$PROXY_PORT; SB_CONTROL=$PROXY_CONTROL
SETUP=$("$LG" setup --url "$HQ" --admin-token "$HQ_TOKEN")
AGENT=$(echo "$SETUP" | json 'd["token"]'); CUSTOMER=$(echo "$SETUP" | json 'd["customer_id"]')
pair_nodes "$SITE" "$SITE_TOKEN" hq "https://127.0.0.1:$(free_port)" "$HQ_ID" hq
pair_nodes "$HQ" "$HQ_TOKEN" site "https://127.0.0.1:$SB_PROXY" "$SITE_ID" site bench
api POST "$HQ/api/v1/sync?peer=site" "$HQ_TOKEN" | json 'd["peers"][0]["ok"] or sys.exit("first sync failed: %s" % d)' >/dev/null
SITE_KIB0=$(kib "$WORK/site"); HQ_KIB0=$(kib "$WORK/hq")
log "switchboard: $ORDERS realistic orders at the site, $C clients"
SB_W=$("$LG" writes --url "$SITE" --token "$AGENT" --customer "$CUSTOMER" --realistic \
  --orders "$ORDERS" --concurrency "$C" --seconds 3600 --ids-out "$WORK/ids")
[ "$(echo "$SB_W" | json 'd["errors"]')" = 0 ] || { echo "write errors: $SB_W" >&2; exit 1; }
SITE_KIB1=$(kib "$WORK/site")
log "switchboard: catch-up site -> HQ (HQ pulls)"
# HQ must hold none of the orders yet (its background link is due only once a day after the
# first session); a retry of a failed background session would have pulled them during the fill.
api GET "$HQ/api/v1/sync/status" "$HQ_TOKEN" >"$WORK/hq-sync-status.json"
HQ_BEFORE=$(api GET "$HQ/api/v1/node" "$HQ_TOKEN" | json 'd["documents"]["orders"]')
[ "$HQ_BEFORE" = 0 ] || { echo "HQ already holds $HQ_BEFORE orders before the catch-up: $(cat "$WORK/hq-sync-status.json")" >&2; exit 1; }
proxy_reset "$SB_CONTROL"
HQ_CPU0=$(cpu_s "$HQ_PID"); SITE_CPU0=$(cpu_s "$SITE_PID")
PERF_PIDS=()
if [ -n "${COMPARE_PROFILE:-}" ]; then
  mkdir -p "$COMPARE_PROFILE"
  for who in hq site; do
    pid=$HQ_PID; [ $who = site ] && pid=$SITE_PID
    perf record -q -e cpu-clock -F 499 --call-graph dwarf,16384 -p "$pid" \
      -o "$COMPARE_PROFILE/$who.perf.data" >/dev/null 2>&1 &
    PERF_PIDS+=($!)
  done
  sleep 1
fi
# One session, or more when the catch-up outlasts the node's session limit
# (`sync_session_timeout_secs`, default 50 s): every frame a cut session merged is durable with
# its checkpoint, so the next session goes on from there, as HQ's background link would. The
# catch-up time covers them all; SB_SYNC sums their reports.
T0=$(now)
SESSIONS=()
for _ in $(seq 1 40); do
  S=$(api POST "$HQ/api/v1/sync?peer=site" "$HQ_TOKEN")
  SESSIONS+=("$S")
  echo "$S" | json 'd["peers"][0]["ok"]' | grep -qx True && break
  echo "$S" | json '"session_timeout" if "did not end within" in (d["peers"][0]["error"] or "") else sys.exit("catch-up failed: %s" % d)' >/dev/null
  log "switchboard: session ${#SESSIONS[@]} reached the session limit; the next one goes on"
done
T1=$(now)
SB_SYNC=$(printf '%s\n' "${SESSIONS[@]}" | python3 -c '
import json, sys
ps = [json.loads(l)["peers"][0] for l in sys.stdin if l.strip()]
last = dict(ps[-1])
for k in ("sent_docs", "received_docs", "bytes_out", "bytes_in"):
    last[k] = sum(p[k] for p in ps)
last["sessions"] = len(ps)
print(json.dumps({"peers": [last]}))')
for p in "${PERF_PIDS[@]}"; do kill -INT "$p"; wait "$p" || true; done
SB_SECS=$(elapsed "$T0" "$T1")
HQ_CPU1=$(cpu_s "$HQ_PID"); SITE_CPU1=$(cpu_s "$SITE_PID")
SB_BYTES=$(proxy_counts "$SB_CONTROL")
echo "$SB_SYNC" | json 'd["peers"][0]["ok"] or sys.exit("catch-up failed: %s" % d)' >/dev/null
HQ_ORDERS=$(api GET "$HQ/api/v1/node" "$HQ_TOKEN" | json 'd["documents"]["orders"]')
[ "$HQ_ORDERS" -ge "$ORDERS" ] || { echo "HQ holds $HQ_ORDERS orders, expected $ORDERS" >&2; exit 1; }
HQ_KIB1=$(kib "$WORK/hq")
SB_SITE_HWM=$(hwm_mib "$SITE_PID"); SB_HQ_HWM=$(hwm_mib "$HQ_PID")
"$BIN" export --url "$SITE" --token "$SITE_TOKEN" --format jsonl --out "$WORK/orders.jsonl" >/dev/null 2>&1
[ "$(wc -l <"$WORK/orders.jsonl")" -ge "$ORDERS" ] || { echo "export holds too few orders" >&2; exit 1; }
kill "$SITE_PID" "$HQ_PID"; wait "$SITE_PID" "$HQ_PID" 2>/dev/null || true
python3 - >"$WORK/switchboard.json" <<PY
import json
print(json.dumps({"name": "Switchboard (site → HQ, \`POST /api/v1/sync\` at HQ)",
  "writes": json.loads('''$SB_W'''), "catchup_s": $SB_SECS, "wire": json.loads('''$SB_BYTES'''),
  "session": json.loads('''$SB_SYNC''')["peers"][0],
  "sender_kib": [$SITE_KIB0, $SITE_KIB1], "receiver_kib": [$HQ_KIB0, $HQ_KIB1],
  "sender_hwm_mib": $SB_SITE_HWM, "receiver_hwm_mib": $SB_HQ_HWM,
  "receiver_cpu_s": round($HQ_CPU1 - $HQ_CPU0, 2), "sender_cpu_s": round($SITE_CPU1 - $SITE_CPU0, 2),
  "fsync": json.loads('''$FSYNC''')}))
PY

# --- PouchDB --------------------------------------------------------------------------------
if [ "${COMPARE_ONLY:-}" != switchboard ]; then
start_pouch() { # NAME: sets POUCH_URL and POUCH_PID
  local dir="$WORK/$1" port
  port=$(free_port)
  mkdir -p "$dir/db"
  # Log level warning: no line per request (the log file is pouchdb-server's, not replication's).
  printf '{"log": {"file": "%s/log.txt", "level": "warning"}}\n' "$dir" >"$dir/config.json"
  (cd "$dir" && exec node "$POUCHDB_SERVER" --port "$port" --dir "$dir/db" --config "$dir/config.json" \
    --no-stdout-logs >"$dir/out.log" 2>&1) &
  POUCH_PID=$!
  PIDS+=($POUCH_PID)
  POUCH_URL="http://127.0.0.1:$port"
  wait_http "$POUCH_URL/"
}
start_pouch pdb-source; SRC=$POUCH_URL; SRC_PID=$POUCH_PID
start_pouch pdb-target; DST=$POUCH_URL; DST_PID=$POUCH_PID
PDB_VERSION=$(curl -sf "$SRC/" | json 'd["version"]')
log "pouchdb-server $PDB_VERSION, source $SRC, target $DST"
curl -sf -X PUT "$SRC/orders" >/dev/null
curl -sf -X PUT "$DST/orders" >/dev/null
start_proxy "${SRC##*:}"; PDB_PROXY=$PROXY_PORT; PDB_CONTROL=$PROXY_CONTROL
SRC_KIB0=$(kib "$WORK/pdb-source/db"); DST_KIB0=$(kib "$WORK/pdb-target/db")
log "pouchdb: the same $ORDERS orders at the source, $C clients"
PDB_W=$(node "$COMPARE/pouch_writes.js" "$SRC/orders" "$WORK/orders.jsonl" "$C")
[ "$(echo "$PDB_W" | json 'd["errors"]')" = 0 ] || { echo "write errors: $PDB_W" >&2; exit 1; }
SRC_KIB1=$(kib "$WORK/pdb-source/db")
log "pouchdb: catch-up source -> target"
proxy_reset "$PDB_CONTROL"
DST_CPU0=$(cpu_s "$DST_PID"); SRC_CPU0=$(cpu_s "$SRC_PID")
T0=$(now)
PDB_REPL=$(curl -sf -X POST -H 'content-type: application/json' \
  --data "{\"source\": \"http://127.0.0.1:$PDB_PROXY/orders\", \"target\": \"orders\"}" "$DST/_replicate")
T1=$(now)
PDB_SECS=$(elapsed "$T0" "$T1")
DST_CPU1=$(cpu_s "$DST_PID"); SRC_CPU1=$(cpu_s "$SRC_PID")
PDB_BYTES=$(proxy_counts "$PDB_CONTROL")
echo "$PDB_REPL" | json 'd.get("ok") or sys.exit("replication failed: %s" % d)' >/dev/null
DST_DOCS=$(curl -sf "$DST/orders" | json 'd["doc_count"]')
[ "$DST_DOCS" -ge "$ORDERS" ] || { echo "target holds $DST_DOCS docs, expected $ORDERS" >&2; exit 1; }
DST_KIB1=$(kib "$WORK/pdb-target/db")
PDB_SRC_HWM=$(hwm_mib "$SRC_PID"); PDB_DST_HWM=$(hwm_mib "$DST_PID")

python3 - >"$WORK/pouchdb.json" <<PY
import json
print(json.dumps({"name": "PouchDB (pouchdb-server $PDB_VERSION, gzip, \`POST /_replicate\` at the target)",
  "writes": json.loads('''$PDB_W'''), "catchup_s": $PDB_SECS, "wire": json.loads('''$PDB_BYTES'''),
  "replication": json.loads('''$PDB_REPL'''),
  "sender_kib": [$SRC_KIB0, $SRC_KIB1], "receiver_kib": [$DST_KIB0, $DST_KIB1],
  "sender_hwm_mib": $PDB_SRC_HWM, "receiver_hwm_mib": $PDB_DST_HWM,
  "receiver_cpu_s": round($DST_CPU1 - $DST_CPU0, 2), "sender_cpu_s": round($SRC_CPU1 - $SRC_CPU0, 2)}))
PY
fi

# --- the table ------------------------------------------------------------------------------
if [ -n "${COMPARE_RESULTS:-}" ]; then mkdir -p "$COMPARE_RESULTS"; cp "$WORK"/*.json "$COMPARE_RESULTS"/; fi
echo "Command: \`scripts/compare/run.sh $ORDERS\` (release build, $C writing clients), $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (with uncommitted changes)')."
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(lscpu | awk -F: '/Model name/ {gsub(/^ +/,"",$2); print $2}'), Node.js $(node --version)."
echo
python3 "$COMPARE/table.py" "$ORDERS" "$C" "$WORK/pouchdb.json" "$WORK/switchboard.json"
}
main "$@"
