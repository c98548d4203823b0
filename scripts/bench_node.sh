#!/usr/bin/env bash
# Node benchmarks (issue 4): durable order writes over HTTP at concurrency 1, 16 and 64 against the
# disk's own fsync rate, measured in the same run; then a store of N orders: resident memory,
# start-up to ready, and GET /api/v1/orders/{id} latency.
# Usage: scripts/bench_node.sh [ORDERS] (default 100000). Release build. Prints Markdown to stdout;
# paste it into BENCHMARKS.md. The client runs as a separate process on the same cores.
# SHAPE=realistic: every order is created with 5 lines, 2 payments and 1 hold (nine writes, the
# shape of issue 12 and scripts/compare/), for the write rates and for the store; the store's
# disk per order is reported either way.
# SKIP_BUILD=1 with SWITCHBOARD_BIN / LOADGEN_BIN runs other binaries (before/after runs).
# BENCH_PROFILE=DIR also records a CPU profile of the node during the 64-client run (`perf record
# -e cpu-clock`, call graphs by DWARF, 5 s) into DIR/writes64.perf.data (`perf report -i …`).
set -euo pipefail
cd "$(dirname "$0")/.."
ORDERS=${1:-100000}
SECS=${BENCH_SECONDS:-10}
case "${SHAPE:-}" in
  realistic) SHAPE_ARGS=(--realistic); FILL_ARGS=(--realistic) ;;
  "") SHAPE_ARGS=(); FILL_ARGS=(--fill) ;;
  *) echo "SHAPE: realistic or nothing" >&2; exit 2 ;;
esac
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --bin switchboard --bin switchboard-loadgen >&2
BIN=${SWITCHBOARD_BIN:-target/release/switchboard}
LG=${LOADGEN_BIN:-target/release/switchboard-loadgen}
WORK=$(mktemp -d)
NODE_PID=
cleanup() { [ -n "$NODE_PID" ] && kill "$NODE_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

start_node() {
  # One synthetic agent stands for many: no per-user write limit.
  SWITCHBOARD_USER_WRITES_PER_SEC=0 \
    "$BIN" serve --data-dir "$WORK/data" --listen 127.0.0.1:0 >"$WORK/node.out" 2>"$WORK/node.err" &
  NODE_PID=$!
  local t0=$(date +%s.%N)
  for _ in $(seq 1 600); do
    URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/node.out" | head -1 || true)
    if [ -n "$URL" ] && curl -sf "$URL/readyz" >/dev/null 2>&1; then
      READY_S=$(python3 -c "print(round($(date +%s.%N) - $t0, 3))")
      return 0
    fi
    sleep 0.05
  done
  echo "node did not become ready" >&2; cat "$WORK/node.err" >&2; exit 1
}
stop_node() { kill -TERM "$NODE_PID"; wait "$NODE_PID" || true; NODE_PID=; }
rss_mib() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$NODE_PID/status"; }

echo "## Node benchmarks"
echo
echo "Command: \`scripts/bench_node.sh $ORDERS\` (release build), $(date -u +%Y-%m-%d)."
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(lscpu | awk -F: '/Model name/ {gsub(/^ +/,"",$2); print $2}'), disk: $(df -h /work | awk 'NR==2 {print $1}')."
echo
mkdir -p "$WORK/probe"
FSYNC=$("$LG" fsync --dir "$WORK/probe" --seconds 5)
start_node
ADMIN=$(cat "$WORK/data/admin-token")
SETUP=$("$LG" setup --url "$URL" --admin-token "$ADMIN")
TOKEN=$(echo "$SETUP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
CUST=$(echo "$SETUP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["customer_id"])')
echo "### Durable writes over HTTP"
echo
fmt() { python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.0f/s, p50 %s ms, p99 %s ms, errors %s" % (d["per_second"], d["p50_ms"], d["p99_ms"], d.get("errors", 0)))'; }
echo "Disk probe (write 128 B + fdatasync, one at a time): $(echo "$FSYNC" | fmt)"
echo
# Group commit at work: writer jobs per flush, from the node's own counters.
flushes() { curl -sf -H "Authorization: Bearer $ADMIN" "$URL/metrics" | awk '/^switchboard_flush_batch_size_(sum|count) / {printf "%s ", $2}'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$NODE_PID/stat"; }
echo "| clients | acknowledged writes/s | × fsync rate | p50 ms | p99 ms | errors | jobs per flush | node CPU ms per write |"
echo "|---|---|---|---|---|---|---|---|"
for C in 1 16 64; do
  F0=$(flushes); T0=$(cpu_ticks)
  PERF=
  if [ -n "${BENCH_PROFILE:-}" ] && [ "$C" = 64 ]; then
    mkdir -p "$BENCH_PROFILE"
    (sleep 2; perf record -q -e cpu-clock -F 499 --call-graph dwarf,32768 -p "$NODE_PID" \
      -o "$BENCH_PROFILE/writes64.perf.data" -- sleep 5 >/dev/null 2>&1) &
    PERF=$!
  fi
  R=$("$LG" writes --url "$URL" --token "$TOKEN" --customer "$CUST" --concurrency "$C" --seconds "$SECS" "${SHAPE_ARGS[@]}")
  F1=$(flushes); T1=$(cpu_ticks)
  [ -z "$PERF" ] || wait "$PERF" || true
  python3 - "$R" "$FSYNC" "$C" "$F0" "$F1" "$T0" "$T1" "$(getconf CLK_TCK)" <<'PY'
import json, sys
r, f, c = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
s0, n0 = map(float, sys.argv[4].split()); s1, n1 = map(float, sys.argv[5].split())
ticks, hz = float(sys.argv[7]) - float(sys.argv[6]), float(sys.argv[8])
per_flush = (s1 - s0) / max(n1 - n0, 1)
cpu_ms = ticks / hz * 1000 / max(r['count'], 1)
print(f"| {c} | {r['per_second']:.0f} | {r['per_second']/f['per_second']:.2f} | {r['p50_ms']} | {r['p99_ms']} | {r['errors']} | {per_flush:.1f} | {cpu_ms:.2f} |")
PY
done
echo
echo "### A store of $ORDERS ${SHAPE:-one-line} orders"
echo
KIB0=$(du -sk "$WORK/data" | cut -f1)
"$LG" writes --url "$URL" --token "$TOKEN" --customer "$CUST" --concurrency 32 --seconds 3600 --orders "$ORDERS" "${FILL_ARGS[@]}" --ids-out "$WORK/ids" >/dev/null
stop_node
start_node
echo "- start-up to ready (process start until /readyz answers): ${READY_S} s"
RSS_IDLE=$(rss_mib)
READS=$("$LG" reads --url "$URL" --token "$TOKEN" --ids "$WORK/ids" --requests 20000 --concurrency 4)
echo "- resident memory after start: ${RSS_IDLE} MiB; after 20,000 random reads: $(rss_mib) MiB"
echo "- GET /api/v1/orders/{id}, 4 clients: $(echo "$READS" | fmt)"
echo "- data dir size: $(du -sh "$WORK/data" | cut -f1); disk per order (growth while filling / orders): $(python3 -c "print('%.1f KB' % (($(du -sk "$WORK/data" | cut -f1) - $KIB0) * 1024 / $ORDERS / 1000))")"
stop_node
