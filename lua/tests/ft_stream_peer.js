'use strict';
// The npm fast-tcp 3.3.2 server for lua/tests/test_streams.lua (issue #20):
// listens on 127.0.0.1 (port 0), writes {"port":N} as a line to argv[2],
// then with its one client: hashes the client's "upload" stream and acks
// { sha256, bytes }; on "want-download" (n) streams n random bytes as
// "download" with info { bytes, sha256 } and waits for the client's ack.
// Prints one JSON line (the upload it saw, the ack it got) and exits; exits
// by itself after 25 s with { error }. Every socket is told its id first
// (the event "your-id"), for routed streams between two clients; once
// every socket closed, it prints what it has and exits.
const fs = require('fs');
const crypto = require('crypto');
const ft = require('fast-tcp');

const report = {};
function done(extra) {
  process.stdout.write(`${JSON.stringify({ ...report, ...extra })}\n`, () => process.exit(0));
}
setTimeout(() => done({ error: 'timed out' }), 25000).unref();

const server = new ft.Server();
let open = 0;
server.on('connection', (sock) => {
  open += 1;
  sock.on('close', () => { open -= 1; if (open === 0) done({}); });
  sock.on('error', () => {});
  sock.emit('your-id', sock.id);
  sock.on('upload', (readable, info, cb) => {
    const hash = crypto.createHash('sha256');
    let bytes = 0;
    readable.on('data', (d) => { hash.update(d); bytes += d.length; });
    readable.on('end', () => {
      report.upload = { info, sha256: hash.digest('hex'), bytes };
      cb({ sha256: report.upload.sha256, bytes });
    });
  });
  sock.on('want-download', async (n) => {
    const data = crypto.randomBytes(n);
    const sha256 = crypto.createHash('sha256').update(data).digest('hex');
    report.sent = { sha256, bytes: n };
    const w = sock.stream('download', { bytes: n, sha256 }, (ack) => done({ ack }));
    for (let off = 0; off < n; off += 65536) {
      if (!w.write(data.subarray(off, off + 65536))) await new Promise((r) => w.once('drain', r));
    }
    w.end();
  });
});
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(process.argv[2], `${JSON.stringify({ port: server._server.address().port })}\n`);
});
