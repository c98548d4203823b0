// A counting TCP proxy for the sync comparison (scripts/compare/run.sh): it forwards every
// connection it accepts to one target and counts the bytes each way, at the TCP level, so it
// counts exactly what the two replicas put on the wire (HTTP headers included), whatever the
// protocol (PouchDB's HTTP replication or Switchboard's sync frames, plain HTTP or TLS).
//
// Usage: node proxy.js TARGET_PORT [TARGET_HOST]
// Prints one line `proxy PORT control CONTROL_PORT` once both listeners are bound (port 0 picks
// free ports; loopback only). The control port answers `GET /` with
// {"up":N,"down":N,"connections":N} (up: client → target, down: target → client) and `POST /reset`
// with the counts before zeroing them.
'use strict';
const net = require('net');
const http = require('http');

const targetPort = Number(process.argv[2]);
const targetHost = process.argv[3] || '127.0.0.1';
if (!Number.isInteger(targetPort) || targetPort <= 0) {
  console.error('usage: node proxy.js TARGET_PORT [TARGET_HOST]');
  process.exit(2);
}

let counts = { up: 0, down: 0, connections: 0 };

const proxy = net.createServer((client) => {
  counts.connections += 1;
  const upstream = net.connect(targetPort, targetHost);
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  client.on('data', (b) => { counts.up += b.length; });
  upstream.on('data', (b) => { counts.down += b.length; });
  client.pipe(upstream);
  upstream.pipe(client);
  const close = () => { client.destroy(); upstream.destroy(); };
  client.on('error', close);
  upstream.on('error', close);
  client.on('close', close);
  upstream.on('close', close);
});

const control = http.createServer((req, res) => {
  const body = JSON.stringify(counts);
  if (req.method === 'POST' && req.url === '/reset') {
    counts = { up: 0, down: 0, connections: 0 };
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(body);
});

proxy.listen(0, '127.0.0.1', () => {
  control.listen(0, '127.0.0.1', () => {
    console.log(`proxy ${proxy.address().port} control ${control.address().port}`);
  });
});
process.on('SIGTERM', () => process.exit(0));
