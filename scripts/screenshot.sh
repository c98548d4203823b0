#!/usr/bin/env bash
# Takes docs/sales-order-page.png, the README's screenshot of the sales order page, from a real
# `switchboard serve --demo-data` in headless Debian chromium (playwright-core, pinned by
# scripts/screenshot/package-lock.json; no browser download).
# Needs: chromium (apt-get install chromium), Node.js and npm. Usage: scripts/screenshot.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null || { echo "error: chromium is needed (apt-get install chromium)" >&2; exit 1; }
target="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build -p switchboard-cli
(cd scripts/screenshot && npm ci --no-audit --no-fund)
node scripts/screenshot/shot.mjs "$target/debug/switchboard" "$PWD/docs/sales-order-page.png"
