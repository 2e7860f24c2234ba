'use strict';
// npm fast-tcp 3.3.2 streaming with the hosts' tests (python):
//   client URL N   dials URL (tcp://HOST:PORT or ipc://PATH), uploads N
//                  random bytes as the stream "upload" with info {"n": 1}
//                  and an ack, then emits "want" and hashes the stream
//                  "download" the server opens, answering its ack with
//                  {"sha256", "bytes"}; prints {"sent", "ack", "got"}
//   server N       listens on 127.0.0.1:0 and prints "listening on URL";
//                  an "upload" stream is hashed and its ack answered with
//                  {"sha256", "bytes"}; "want" opens the stream "download"
//                  of N random bytes with info {"n": 2} and an ack; prints
//                  {"sent", "ack", "got"} once both are done
// {"sha256", "bytes", "info"} for got; {"sha256"} for sent. Exits 0 when
// done; 1 after 20 s or on an error.
const crypto = require('node:crypto');
const path = require('node:path');
const ft = require(path.join(__dirname, '../node_modules/fast-tcp'));

const [mode, a, b] = process.argv.slice(2);
const n = Number(mode === 'client' ? b : a);
const data = crypto.randomBytes(n);
const sent = { sha256: crypto.createHash('sha256').update(data).digest('hex') };
const out = { sent };
setTimeout(() => { console.error('timed out'); process.exit(1); }, 20000).unref();

function hashed(readable) {
  return new Promise((resolve) => {
    const h = crypto.createHash('sha256');
    let bytes = 0;
    readable.on('data', (d) => { h.update(d); bytes += d.length; });
    readable.on('end', () => resolve({ sha256: h.digest('hex'), bytes }));
  });
}

async function writeAll(w) {
  for (let off = 0; off < data.length; off += 65536) {
    if (!w.write(data.subarray(off, off + 65536))) await new Promise((r) => w.once('drain', r));
  }
  w.end();
}

function done(sock) {
  if (!out.ack || !out.got) return;
  console.log(JSON.stringify(out));
  setTimeout(() => process.exit(0), 50);
  if (sock && mode === 'client') sock.destroy();
}

if (mode === 'client') {
  const opts = a.startsWith('ipc://') ? { path: a.slice(6) }
    : { host: new URL(a.replace(/^tcp:/, 'http:')).hostname, port: Number(a.split(':')[2]) };
  const s = new ft.Socket({ ...opts, reconnect: false });
  s.on('error', (e) => { console.error(e.message); process.exit(1); });
  s.on('download', (readable, info, cb) => {
    hashed(readable).then((r) => { cb(r); out.got = { ...r, info }; done(s); });
  });
  s.on('connect', () => {
    writeAll(s.stream('upload', { n: 1 }, (ack) => { out.ack = ack; s.emit('want', 1); done(s); }));
  });
} else {
  const server = new ft.Server();
  server.on('connection', (sock) => {
    sock.on('error', () => {});
    sock.on('upload', (readable, info, cb) => {
      hashed(readable).then((r) => { cb(r); out.got = { ...r, info }; done(); });
    });
    sock.on('want', () => {
      writeAll(sock.stream('download', { n: 2 }, (ack) => { out.ack = ack; done(); }));
    });
  });
  server.listen(0, '127.0.0.1', () => console.log(`listening on tcp://127.0.0.1:${server._server.address().port}`));
}
