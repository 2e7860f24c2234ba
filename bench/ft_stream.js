'use strict';
// Stream throughput for bench/fasttcp.sh: npm fast-tcp 3.3.2's client
// against a fast-tcp server that hashes the stream "upload" (answering its
// ack at the end) and opens "download" on `ctl:download [n]`: weft's
// (build/tests/weft_ft_peer) or npm fast-tcp's (bench/peers/fasttcp_server.js
// --mode stream). Prints one JSON line {"dir", "bytes", "mb_per_s"}; the
// clock runs from the stream's open to its ack (up) or its end (down).
//
//   node bench/ft_stream.js tcp://127.0.0.1:PORT | ipc:///path  up|down  BYTES
const path = require('node:path');
const crypto = require('node:crypto');
const ft = require(path.join(__dirname, '../tests/interop/node_modules/fast-tcp'));

const [url, dir, bytesArg] = process.argv.slice(2);
const bytes = Number(bytesArg || 32 << 20);
const where = url.startsWith('ipc://') ? { path: url.slice(6) }
  : { host: url.split('/')[2].split(':')[0], port: Number(url.split(':')[2]) };
const s = new ft.Socket({ ...where, reconnect: false });
s.on('error', (e) => { console.error(e.message); process.exit(1); });
const done = (t0) => {
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ dir, bytes, mb_per_s: Math.round(bytes / (1 << 20) / secs * 10) / 10 }));
  s.destroy();
  process.exit(0);
};
s.on('connect', () => {
  s._socket.setNoDelay(true);
  if (dir === 'up') {
    const chunk = crypto.randomBytes(65536);
    const t0 = process.hrtime.bigint();
    const w = s.stream('upload', { bytes }, () => done(t0));
    (async () => {
      for (let off = 0; off < bytes; off += chunk.length) {
        if (!w.write(chunk)) await new Promise((r) => w.once('drain', r));
      }
      w.end();
    })();
  } else {
    s.on('download', (readable, info, cb) => {
      const t0 = process.hrtime.bigint();
      readable.on('data', () => {});
      readable.on('end', () => { if (cb) cb({}); done(t0); });
    });
    s.emit('ctl:download', [bytes]);
  }
});
