#!/usr/bin/env bash
# The README's test command: installs the system parts the tests need when they are missing
# (Debian's `postgresql` for the warehouse tests, `chromium` and `chromium-driver` for the console's
# browser tests, `faketime` for the clock-skew sync test, Node.js and npm for the axe-core audits of
# the console's screens, installed by `npm ci` in tests/console-axe), then runs the whole test suite.
#
#   scripts/test.sh            # everything CI runs after fmt and clippy, then schemathesis
#   scripts/test.sh -- cli     # extra arguments go to `cargo test --workspace` (no schemathesis)
set -euo pipefail
cd "$(dirname "$0")/.."

have_postgres() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; }
have_browser() { command -v chromium >/dev/null && command -v chromedriver >/dev/null; }

missing=()
have_postgres || missing+=(postgresql)
have_browser || missing+=(chromium chromium-driver)
command -v faketime >/dev/null || missing+=(faketime)
command -v npm >/dev/null || missing+=(nodejs npm)

if ((${#missing[@]})); then
    echo "==> installing ${missing[*]}"
    if [[ $(id -u) -ne 0 ]]; then
        echo "error: ${missing[*]} missing; run as root or: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 apt-get update -q
    # The package's own cluster is not used: the tests start their own servers on temp dirs.
    timeout 900 apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# axe-core, pinned by tests/console-axe/package-lock.json, for the console's browser tests.
if [[ ! -f tests/console-axe/node_modules/axe-core/axe.min.js ]]; then
    echo "==> npm ci in tests/console-axe (axe-core)"
    (cd tests/console-axe && timeout 600 npm ci --no-audit --no-fund)
fi

# The real-process tests run target/debug/switchboard; build it in the same profile first.
timeout 1800 cargo build -p switchboard-cli
cargo test --workspace "$@"

# The API against its own OpenAPI document (issue 14): schemathesis, pinned, with an admin and an
# agent token, every check; any finding fails. Skipped when a test filter was given.
if (($# == 0)); then
    timeout 900 scripts/schemathesis.sh
fi
