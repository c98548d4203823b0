#!/usr/bin/env bash
# Console benchmarks (issue 10), a benchmark and not a test: a release node filled with N customers
# and N orders (through the API: the load generator for the orders, a small client for the
# customers), then over HTTP on loopback, signed in as a console agent:
#   - server render of the sales order page (GET /orders/{id}, random orders), p50/p99;
#   - customer search (GET /customers?q=..., by phone, email, part of a name, and no match), p50/p99;
#   - time to interactive of the sales order page in headless Chromium (Navigation Timing
#     `domInteractive - navigationStart`, driven through chromedriver), median/p99.
# Usage: scripts/bench_console.sh [N] (default 100000). Prints Markdown; paste it into
# BENCHMARKS.md. Needs chromium and chromium-driver (scripts/test.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
REQS=${BENCH_REQUESTS:-1000}
TTI_RUNS=${BENCH_TTI_RUNS:-30}
TARGET=${CARGO_TARGET_DIR:-target}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --bin switchboard --bin switchboard-loadgen >&2
BIN=${SWITCHBOARD_BIN:-$TARGET/release/switchboard}
LG=${LOADGEN_BIN:-$TARGET/release/switchboard-loadgen}
WORK=$(mktemp -d)
NODE_PID=
DRIVER_PID=
cleanup() {
  [ -n "$NODE_PID" ] && kill "$NODE_PID" 2>/dev/null
  [ -n "$DRIVER_PID" ] && kill "$DRIVER_PID" 2>/dev/null
  wait 2>/dev/null; rm -rf "$WORK"
}
trap cleanup EXIT

SWITCHBOARD_USER_WRITES_PER_SEC=0 SWITCHBOARD_LOG=warn \
  "$BIN" serve --data-dir "$WORK/data" --listen 127.0.0.1:0 >"$WORK/node.out" 2>"$WORK/node.err" &
NODE_PID=$!
URL=
for _ in $(seq 1 600); do
  URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$WORK/node.out" | head -1 || true)
  if [ -n "$URL" ] && curl -sf "$URL/readyz" >/dev/null 2>&1; then break; fi
  URL=; sleep 0.05
done
[ -n "$URL" ] || { echo "node did not become ready" >&2; cat "$WORK/node.err" >&2; exit 1; }
ADMIN=$(cat "$WORK/data/admin-token")
SETUP=$("$LG" setup --url "$URL" --admin-token "$ADMIN")
TOKEN=$(echo "$SETUP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
CUST=$(echo "$SETUP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["customer_id"])')

T0=$(date +%s)
echo "filling: $N orders" >&2
"$LG" writes --url "$URL" --token "$TOKEN" --customer "$CUST" --concurrency 32 --seconds 3600 \
  --orders "$N" --fill --ids-out "$WORK/ids" >/dev/null
PORT=${URL##*:}
# Customers, N of them, each with its own name, phone and email; then the measurements.
python3 - "$URL" "$ADMIN" "$TOKEN" "$N" "$REQS" "$TTI_RUNS" "$WORK" "$T0" <<'PY'
import http.client, json, random, re, statistics, subprocess, sys, threading, time, urllib.parse, urllib.request, os, socket

url, admin, token, n, reqs, tti_runs, work, t0 = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7], int(sys.argv[8])
host, port = urllib.parse.urlparse(url).hostname, urllib.parse.urlparse(url).port
random.seed(10)
FIRST = ["Ada", "Ben", "Carla", "Dana", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jill", "Kurt", "Lena", "Max", "Nora", "Olaf", "Pia"]
LAST = ["Jones", "Smith", "Garcia", "Müller", "Rossi", "Novak", "Kim", "Silva", "Dubois", "Berg"]

def customer(i):
    return {"name": f"{FIRST[i % 16]} {LAST[(i // 16) % 10]}-{i}", "phone": f"+44 20 {i:07d}",
            "email": f"c{i}@example.com", "address": {}}

def fill(start, step):
    c = http.client.HTTPConnection(host, port)
    for i in range(start, n, step):
        body = json.dumps(customer(i))
        for _ in range(5):
            try:
                c.request("POST", "/api/v1/customers", body, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
                r = c.getresponse(); r.read()
                if r.status == 201: break
            except OSError:
                c = http.client.HTTPConnection(host, port)
        else:
            raise SystemExit(f"customer {i} not created")

print(f"filling: {n} customers", file=sys.stderr)
threads = [threading.Thread(target=fill, args=(k, 8)) for k in range(8)]
for t in threads: t.start()
for t in threads: t.join()
fill_s = time.time() - t0

def call(method, path, body=None, headers=None):
    c = http.client.HTTPConnection(host, port)
    c.request(method, path, body, headers or {})
    r = c.getresponse()
    return r, r.read()

# A console agent with a password, signed in.
pw = "bench agent password"
r, b = call("POST", "/api/v1/call-centers/bench/users", json.dumps({"name": "console-agent", "role": "agent", "password": pw}),
            {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"})
assert r.status == 201, (r.status, b)
r, b = call("GET", "/sign-in")
pre = [v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie"]
csrf = re.search(rb'name="csrf" value="([^"]+)"', b).group(1).decode()
form = urllib.parse.urlencode({"csrf": csrf, "name": "console-agent", "password": pw})
r, b = call("POST", "/sign-in", form, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": "; ".join(pre)})
session = [v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie" and v.startswith("sb_session=")]
assert r.status == 303 and session, (r.status, b[:300])
cookie = session[0]

def timed(paths):
    c = http.client.HTTPConnection(host, port)
    out = []
    for p in paths:
        t = time.perf_counter()
        c.request("GET", p, headers={"Cookie": cookie})
        r = c.getresponse(); body = r.read()
        out.append((time.perf_counter() - t) * 1000)
        if r.status != 200:
            raise SystemExit(f"GET {p}: {r.status} {body[:300]}")
    return out

def pct(xs, q):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]

ids = [l.strip() for l in open(os.path.join(work, "ids")) if l.strip()]
timed([f"/orders/{ids[0]}"] * 20)  # warm the connection and the page's code paths
render = timed([f"/orders/{random.choice(ids)}" for _ in range(reqs)])
kinds = {
    "phone": lambda: f"20 {random.randrange(n):07d}",
    "email": lambda: f"c{random.randrange(n)}@example.com",
    "part of a name": lambda: random.choice(LAST)[:4].lower(),
    "no match": lambda: f"nobody-{random.randrange(10**6)}",
}
search = {k: timed([f"/customers?q={urllib.parse.quote(f())}" for _ in range(max(reqs // 4, 50))]) for k, f in kinds.items()}
all_search = [x for v in search.values() for x in v]

# Time to interactive in headless Chromium, through chromedriver's WebDriver protocol.
s = socket.socket(); s.bind(("127.0.0.1", 0)); dport = s.getsockname()[1]; s.close()
driver = subprocess.Popen(["chromedriver", f"--port={dport}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
open(os.path.join(work, "driver.pid"), "w").write(str(driver.pid))
def wd(method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{dport}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=60).read())["value"]
tti = []
try:
    for _ in range(200):
        try: wd("GET", "/status"); break
        except OSError: time.sleep(0.05)
    caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
        "binary": "/usr/bin/chromium",
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={work}/chromium"]}}}}
    sid = wd("POST", "/session", caps)["sessionId"]
    wd("POST", f"/session/{sid}/url", {"url": f"{url}/sign-in"})
    name, value = cookie.split("=", 1)
    wd("POST", f"/session/{sid}/cookie", {"cookie": {"name": name, "value": value, "path": "/", "httpOnly": True}})
    for i in range(tti_runs + 3):
        wd("POST", f"/session/{sid}/url", {"url": f"{url}/orders/{random.choice(ids)}"})
        v = wd("POST", f"/session/{sid}/execute/sync", {"script": "var t = performance.getEntriesByType('navigation')[0]; return [t.domInteractive - t.startTime, document.title, t.requestStart - t.startTime];", "args": []})
        if "Order" not in v[1]:
            raise SystemExit(f"not the order page: {v}")
        if i >= 3: tti.append(v[0])
        if os.environ.get("BENCH_VERBOSE"): print(v, file=sys.stderr)
    wd("DELETE", f"/session/{sid}")
finally:
    driver.terminate(); driver.wait()

f = lambda xs: f"p50 {pct(xs, 50):.2f} ms, p99 {pct(xs, 99):.2f} ms"
print(f"- filled in {fill_s:.0f} s ({n} orders through the load generator, then {n} customers through the API)")
print(f"- server render of the sales order page, GET /orders/{{id}} ({reqs} random orders, one client): {f(render)} (target p99 < 20 ms)")
print(f"- customer search, GET /customers?q=... ({len(all_search)} searches, one client): {f(all_search)} (target p99 < 50 ms)")
for k, v in search.items():
    print(f"  - by {k}: {f(v)}")
print(f"- time to interactive of the sales order page, headless Chromium on loopback (Navigation Timing domInteractive − startTime, {len(tti)} loads): median {statistics.median(tti):.0f} ms, p99 {pct(tti, 99):.0f} ms (target < 300 ms)")
PY
echo "- data dir size: $(du -sh "$WORK/data" | cut -f1)"
