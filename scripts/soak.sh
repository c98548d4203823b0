#!/usr/bin/env bash
# Soak: runs the real-process fault scenarios (tests/tests/faults.rs) with bigger sizes, several
# times in a row. Every size is an environment variable with a soak default here (CI uses small
# defaults built into the tests):
#   SOAK_ORDERS    orders per side in the outage/restart scenarios      (default here 60)
#   SOAK_ROUNDS    SIGKILL rounds in the crash scenario                 (default here 10)
#   SOAK_CATCHUP   orders in the catch-up that gets cut                 (default here 5000)
#   SOAK_CUTS      cut sessions in the catch-up scenario                (default here 40)
#   SOAK_SKEW_SECS clock offset of the skewed node                      (default here 86400)
#   SOAK_REPEAT    how many times the whole set runs                    (default 3)
#   SOAK_FILTER    which scenarios (a cargo test filter)                (default faults::)
#   SOAK_SEED      fixes the random cut points and kill moments (printed by each test)
# Uses the debug build like the tests (cargo builds target/debug/switchboard first).
set -euo pipefail
cd "$(dirname "$0")/.."

export SOAK_ORDERS="${SOAK_ORDERS:-60}"
export SOAK_ROUNDS="${SOAK_ROUNDS:-10}"
export SOAK_CATCHUP="${SOAK_CATCHUP:-5000}"
export SOAK_CUTS="${SOAK_CUTS:-40}"
export SOAK_SKEW_SECS="${SOAK_SKEW_SECS:-86400}"
repeat="${SOAK_REPEAT:-3}"
filter="${SOAK_FILTER:-faults::}"

echo "soak: orders=$SOAK_ORDERS rounds=$SOAK_ROUNDS catchup=$SOAK_CATCHUP cuts=$SOAK_CUTS skew=${SOAK_SKEW_SECS}s repeat=$repeat filter=$filter"
# Build the binary and the test executable once, up front.
cargo build -p switchboard-cli
cargo test -p switchboard-tests --test all --no-run
for i in $(seq 1 "$repeat"); do
    echo "==> soak run $i/$repeat"
    # One scenario at a time: each starts several node processes.
    timeout 7200 cargo test -p switchboard-tests --test all "$filter" -- --test-threads=1 --nocapture
done
echo "soak: $repeat runs passed"
