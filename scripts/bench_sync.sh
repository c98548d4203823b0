#!/usr/bin/env bash
# Sync cost benchmark (issue 3): no-op sessions between two in-memory replicas holding 1k, 10k and
# 100k order documents, then k = 1, 100, 10,000 changed documents out of the largest, with the
# protocol's frames and bytes beside the size of the missing changes and beside plain automerge
# sync messages. Release build. Prints Markdown to stdout (machine first); paste it into
# BENCHMARKS.md.
# Usage: scripts/bench_sync.sh [MAX_DOCS] (default 100000).
set -euo pipefail
cd "$(dirname "$0")/.."
MAX=${1:-100000}
cargo build --release -p switchboard-sync --example bench_sync >&2
echo "Machine: $(nproc) cores"
echo
echo '```'
lscpu | head -n 15
echo '```'
echo
/usr/bin/time -f "peak RSS %M KiB, wall %e s" target/release/examples/bench_sync "$MAX"
