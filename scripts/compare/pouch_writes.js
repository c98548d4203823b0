// The PouchDB side's writes for the sync comparison (scripts/compare/run.sh): the same orders the
// Switchboard site took, written to a pouchdb-server database the way a call center takes them:
// created, then five lines, two payments and a hold, each a write (a new revision) of its own,
// nine HTTP writes per order, from CONCURRENCY clients over keep-alive connections.
//
// Usage: node pouch_writes.js DB_URL ORDERS_JSONL CONCURRENCY
// ORDERS_JSONL holds one order view per line (`switchboard export --format jsonl`). A document is
// the view less what the node derives from the order (totals, line totals, automatic charges,
// conflicts), so it holds what the order holds; revision k of an order is that document cut back
// to the first k writes (lines, then payments, then the hold), and the last revision is whole.
// Prints one JSON object: writes, seconds, per_second, p50_ms, p99_ms, orders, errors,
// doc_bytes (mean JSON size of a final revision).
'use strict';
const http = require('http');
const fs = require('fs');

const [dbUrl, file, concArg] = process.argv.slice(2);
const concurrency = Number(concArg || 16);
if (!dbUrl || !file) {
  console.error('usage: node pouch_writes.js DB_URL ORDERS_JSONL CONCURRENCY');
  process.exit(2);
}
const base = new URL(dbUrl);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });

const orders = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));

// The order's own fields: the view less what the node derives.
function own(view) {
  const d = { ...view };
  delete d.totals;
  delete d.conflicts;
  d.lines = (d.lines || []).map((l) => { const c = { ...l }; delete c.line_total; return c; });
  d.charges = (d.charges || []).filter((c) => !c.auto);
  return d;
}

// The nine states of an order, as the nine writes leave it.
function revisions(view) {
  const lines = view.lines || [];
  const payments = view.payments || [];
  const holds = view.holds || [];
  const steps = 1 + lines.length + payments.length + holds.length;
  const out = [];
  for (let k = 0; k < steps; k += 1) {
    let left = k;
    const nl = Math.min(left, lines.length); left -= nl;
    const np = Math.min(left, payments.length); left -= np;
    const nh = Math.min(left, holds.length);
    out.push({ ...view, lines: lines.slice(0, nl), payments: payments.slice(0, np), holds: holds.slice(0, nh) });
  }
  return out;
}

function put(id, doc) {
  const body = Buffer.from(JSON.stringify(doc));
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: base.hostname,
      port: base.port,
      path: `${base.pathname.replace(/\/$/, '')}/${encodeURIComponent(id)}`,
      method: 'PUT',
      agent,
      headers: { 'content-type': 'application/json', 'content-length': body.length },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode !== 201 && res.statusCode !== 200) {
          reject(new Error(`PUT ${id}: ${res.statusCode} ${text}`));
          return;
        }
        resolve(JSON.parse(text).rev);
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function main() {
  const lat = [];
  let errors = 0;
  let next = 0;
  let docBytes = 0;
  const start = process.hrtime.bigint();
  async function client() {
    for (;;) {
      const i = next;
      next += 1;
      if (i >= orders.length) return;
      const view = own(orders[i]);
      const id = String(view.id);
      let rev;
      for (const state of revisions(view)) {
        const doc = { ...state, _id: id };
        delete doc.id;
        if (rev) doc._rev = rev;
        const t = process.hrtime.bigint();
        try {
          rev = await put(id, doc);
          lat.push(Number(process.hrtime.bigint() - t) / 1e6);
        } catch (e) {
          errors += 1;
          if (errors <= 3) console.error(String(e));
          break;
        }
      }
      docBytes += Buffer.byteLength(JSON.stringify(view));
    }
  }
  await Promise.all(Array.from({ length: concurrency }, client));
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  lat.sort((a, b) => a - b);
  const pct = (p) => (lat.length ? Math.round(lat[Math.min(lat.length - 1, Math.round((lat.length - 1) * p))] * 1000) / 1000 : null);
  console.log(JSON.stringify({
    writes: lat.length,
    seconds: Math.round(secs * 100) / 100,
    per_second: Math.round(lat.length / secs),
    p50_ms: pct(0.5),
    p99_ms: pct(0.99),
    orders: orders.length,
    errors,
    doc_bytes: Math.round(docBytes / Math.max(orders.length, 1)),
    concurrency,
  }));
  agent.destroy();
}

main().catch((e) => { console.error(e); process.exit(1); });
