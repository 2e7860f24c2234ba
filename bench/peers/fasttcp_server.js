'use strict';
// npm fast-tcp 3.3.2's server for bench/fasttcp.sh: --mode echo answers an
// event with the same event and resolves its ack with the data (what
// `weft serve --mode echo` does); --mode broadcast sends every plain
// message (event "data") to every socket; --mode stream serves
// bench/ft_stream.js. Prints "listening on tcp://127.0.0.1:PORT" (or ipc://PATH).
const crypto = require('node:crypto');
const path = require('node:path');
const ft = require(path.join(__dirname, '../../tests/interop/node_modules/fast-tcp'));

const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const mode = opt('--mode', 'echo');
const where = opt('--ipc', null) || Number(opt('--port', '0'));
const server = new ft.Server();
server.on('connection', (sock) => {
  sock.on('error', () => {});
  sock._socket.setNoDelay(true); // as weft: no Nagle on either side
  sock.on('e', (d, cb) => { sock.emit('e', d); if (cb) cb(d); });
  // broadcast: a plain message (event "data") to every socket, as
  // `weft serve --mode broadcast` does with a fast-tcp peer's write.
  if (mode === 'broadcast') sock.on('data', (d) => server.emit('data', d));
  // stream (bench/ft_stream.js): "upload" is hashed and acked at its end;
  // ctl:download [n] opens "download" with n bytes in 64 KiB chunks, as
  // tests/support/ft_peer.c does.
  if (mode === 'stream') {
    sock.on('upload', (readable, info, cb) => {
      const hash = crypto.createHash('sha256');
      let bytes = 0;
      readable.on('data', (d) => { hash.update(d); bytes += d.length; });
      readable.on('end', () => { if (cb) cb({ sha256: hash.digest('hex'), bytes, info }); });
    });
    sock.on('ctl:download', async (args) => {
      const n = args[0];
      const chunk = crypto.randomBytes(65536);
      const w = sock.stream('download', { bytes: n }, () => {});
      for (let off = 0; off < n; off += chunk.length) {
        if (!w.write(chunk.subarray(0, Math.min(chunk.length, n - off)))) await new Promise((r) => w.once('drain', r));
      }
      w.end();
    });
  }
});
server.listen(where, () => {
  const a = server._server.address();
  console.log(typeof a === 'string' ? `listening on ipc://${a}` : `listening on tcp://127.0.0.1:${a.port}`);
});
process.on('SIGTERM', () => process.exit(0));
