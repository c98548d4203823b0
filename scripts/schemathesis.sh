#!/usr/bin/env bash
# Runs schemathesis (pinned, from PyPI, in a venv under the cargo target dir) against a real node
# with seeded fixtures, once with an admin token and once with an agent token, with every check
# (`--checks all`). Exits non-zero on any finding, and always stops the node.
#
#   scripts/schemathesis.sh            # needs target/debug/switchboard (built if missing)
#
# Environment:
#   SCHEMATHESIS_MAX_EXAMPLES  test cases per operation and phase (default 40)
#   SCHEMATHESIS_TIMEOUT       seconds each of the two runs may take (default 150)
#   SCHEMATHESIS_SEED          the hypothesis seed (default 1: the same cases every run)
#   SWITCHBOARD_BIN            the node binary (default $CARGO_TARGET_DIR/debug/switchboard)
#
# The whole script takes 2 to 3 minutes on 2 cores once the venv exists.
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
VENV=$TARGET/schemathesis-venv
BIN=${SWITCHBOARD_BIN:-$TARGET/debug/switchboard}
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-40}
RUN_TIMEOUT=${SCHEMATHESIS_TIMEOUT:-150}
SEED=${SCHEMATHESIS_SEED:-1}

log() { printf '[schemathesis.sh] %s\n' "$*" >&2; }

# 1. schemathesis, pinned, in its own venv, on the newest Python 3 at hand (3.11.7's parser has a
#    bug that hypothesis meets: "AST constructor recursion depth mismatch").
python_candidates() {
    echo "${PYTHON:-}"
    for v in 3.14 3.13 3.12; do echo "python$v"; done
    if command -v pyenv >/dev/null; then ls -d "$(pyenv root)"/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV; fi
    echo python3
}
if [[ "$("$VENV/bin/schemathesis" --version 2>/dev/null)" != *"$SCHEMATHESIS_VERSION"* ]]; then
    PY=
    for p in $(python_candidates); do
        if "$p" -c 'import sys, venv; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then PY=$p; break; fi
    done
    [[ -n "$PY" ]] || { log "no Python 3.10 or newer"; exit 1; }
    log "installing schemathesis $SCHEMATHESIS_VERSION into $VENV with $("$PY" --version)"
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

# 2. A node in a temp dir, on a free port.
if [[ ! -x "$BIN" ]]; then
    log "building switchboard-cli"
    (cd "$ROOT" && cargo build -q -p switchboard-cli)
fi
WORK=$(mktemp -d)
NODE_PID=
cleanup() {
    if [[ -n "$NODE_PID" ]] && kill -0 "$NODE_PID" 2>/dev/null; then
        kill "$NODE_PID" 2>/dev/null || true
        wait "$NODE_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# The admin token is printed only to a terminal; `init --json` names the file that holds it.
TOKEN_FILE=$("$BIN" init --name schemathesis --role hq --data-dir "$WORK/data" --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["admin_token_file"])')
ADMIN=$(tr -d '[:space:]' <"$TOKEN_FILE")
# The document is loaded without a token (public_metrics); one user sends every request, so the
# per-user write limit is off (its 429 is documented, but would only cut the run short).
SWITCHBOARD_PUBLIC_METRICS=true SWITCHBOARD_USER_WRITES_PER_SEC=0 \
RUST_LOG=${RUST_LOG:-warn} "$BIN" serve --data-dir "$WORK/data" --listen 127.0.0.1:0 \
    >"$WORK/node.out" 2>"$WORK/node.err" &
NODE_PID=$!
NODE=
for _ in $(seq 100); do
    NODE=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$WORK/node.out" 2>/dev/null | head -1 || true)
    [[ -n "$NODE" ]] && break
    kill -0 "$NODE_PID" 2>/dev/null || { cat "$WORK/node.err" >&2; exit 1; }
    sleep 0.1
done
[[ -n "$NODE" ]] || { log "the node did not start"; exit 1; }
log "node at $NODE"

# 3. Fixtures through the API: a call center, a catalog, an agent, a customer and an order.
call() { # METHOD PATH TOKEN [BODY] -> body on stdout; fails on a non-2xx answer
    local args=(-sS -o "$WORK/answer" -w '%{http_code}' -X "$1" "$NODE$2" -H "Authorization: Bearer $3")
    if [[ $# -ge 4 ]]; then args+=(-H 'Content-Type: application/json' --data-binary "$4"); fi
    local status
    status=$(curl "${args[@]}")
    if [[ "$status" != 2* ]]; then
        log "fixture $1 $2 answered $status: $(cat "$WORK/answer")"
        exit 1
    fi
    cat "$WORK/answer"
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

call PUT /api/v1/call-centers/north "$ADMIN" '{"name":"North","currency":"EUR",
  "payment_methods":[{"id":"card","kind":"card"},{"id":"cash","kind":"cash"}],
  "delivery_modes":[{"id":"std","name":"Standard","charges":[{"from":"0.00","to":"50.00","amount":"5.95"},{"from":"50.00","to":null,"amount":"0.00"}]}],
  "hold_codes":[{"id":"fraud","name":"Fraud check","clear_roles":["supervisor"]},{"id":"callback","name":"Call back","clear_roles":["agent","supervisor"]}],
  "reason_codes":[{"id":"match","name":"Price match"},{"id":"goodwill","name":"Goodwill"}],
  "price_override_limits":{"agent":"5","supervisor":"20"}}' >/dev/null
call PUT /api/v1/products/widget "$ADMIN" '{"name":"Widget","price":"19.99","allow_price_override":true,"upsell":["gadget"]}' >/dev/null
call PUT /api/v1/products/gadget "$ADMIN" '{"name":"Gadget","price":"4.50","cross_sell":["widget"]}' >/dev/null
call PUT /api/v1/price-groups/trade "$ADMIN" '{"name":"Trade","prices":{"widget":"17.99"}}' >/dev/null
call PUT /api/v1/source-codes/SPRING "$ADMIN" '{"catalog":"spring-26","discount_percent":"10","script":"Mention the spring sale."}' >/dev/null
call PUT /api/v1/coupons/WELCOME10 "$ADMIN" '{"kind":"percent","value":"10"}' >/dev/null
AGENT=$(call POST /api/v1/call-centers/north/users "$ADMIN" '{"name":"Ann Agent","role":"agent"}' | field '["token"]')
CUSTOMER=$(call POST /api/v1/customers "$AGENT" '{"name":"Carla Jones","phone":"+44 20 7946 0000","email":"carla@example.com","address":{"city":"London"}}' | field '["id"]')
ORDER=$(call POST /api/v1/orders "$AGENT" "{\"customer_id\":\"$CUSTOMER\",\"delivery_mode\":\"std\",\"source_code\":\"SPRING\"}" | field '["id"]')
LINE=$(call POST "/api/v1/orders/$ORDER/lines" "$AGENT" '{"product_id":"widget","quantity":2}' | field '["lines"][0]["id"]')
PAYMENT=$(call POST "/api/v1/orders/$ORDER/payments" "$AGENT" '{"method":"card","amount":"10.00"}' | field '["payments"][0]["id"]')
call POST "/api/v1/orders/$ORDER/coupons" "$AGENT" '{"code":"WELCOME10"}' >/dev/null
HOLD=$(call POST "/api/v1/orders/$ORDER/holds" "$AGENT" '{"code":"callback","reason":"call back at six"}' | field '["holds"][0]["id"]')
call POST /api/v1/peers "$ADMIN" '{"name":"site-a","url":"https://127.0.0.1:9","node_id":"abababababababababababababababababababababababababababababababab","role":"site","call_centers":["east"]}' >/dev/null
log "fixtures: call center north, products widget and gadget, customer $CUSTOMER, order $ORDER (line $LINE, payment $PAYMENT, hold $HOLD, coupon WELCOME10), peer site-a"

# 4. schemathesis, once per token. The config file names the seeded ids, so that the generated
#    requests reach real resources as well as missing ones.
cat >"$WORK/schemathesis.toml" <<EOF
[checks.positive_data_acceptance]
# A request the schema accepts may still break a business rule that no schema can state (an
# amount with more decimals than the call center's currency allows, a delivery mode that is not
# configured, a coupon under its minimum): those are 422 with a problem naming the field.
expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]

[[operations]]
include-path-regex = "^/api/v1/orders/\\\\{id\\\\}"
parameters = { "path.id" = "$ORDER", "path.line_id" = "$LINE", "path.payment_id" = "$PAYMENT", "path.hold_id" = "$HOLD", "path.code" = "WELCOME10" }

[[operations]]
include-path-regex = "^/api/v1/customers/\\\\{id\\\\}"
parameters = { "path.id" = "$CUSTOMER" }

[[operations]]
include-path-regex = "^/api/v1/call-centers/\\\\{id\\\\}"
parameters = { "path.id" = "north" }
EOF

STATUS=0
for who in admin agent; do
    token=$ADMIN
    [[ $who == agent ]] && token=$AGENT
    log "running schemathesis as $who (max $MAX_EXAMPLES examples per operation, ${RUN_TIMEOUT}s)"
    start=$(date +%s)
    set +e
    (cd "$WORK" && timeout --signal=INT "$RUN_TIMEOUT" "$VENV/bin/schemathesis" \
        --config-file "$WORK/schemathesis.toml" --no-color run "$NODE/api/v1/openapi.json" \
        --checks all --header "Authorization: Bearer $token" \
        --max-examples "$MAX_EXAMPLES" --seed "$SEED" --workers 2 \
        --generation-database none --request-timeout 10 --suppress-health-check all)
    rc=$?
    set -e
    log "$who: exit $rc after $(($(date +%s) - start))s"
    if [[ $rc -ne 0 ]]; then STATUS=1; fi
    if ! kill -0 "$NODE_PID" 2>/dev/null; then
        log "the node stopped during the run"; cat "$WORK/node.err" >&2; exit 1
    fi
done
if grep -q 'panicked' "$WORK/node.err"; then
    log "the node panicked:"; grep -A3 'panicked' "$WORK/node.err" >&2; STATUS=1
fi
exit $STATUS
