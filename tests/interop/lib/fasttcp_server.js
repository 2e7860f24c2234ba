'use strict';
// npm fast-tcp 3.3.2's server for the hosts' client tests (python, lua):
// "sum" answers its ack with data.a + data.b, a plain message (event
// "data") comes back as it came. Prints "listening on tcp://127.0.0.1:PORT"
// (or ipc://PATH with --ipc PATH); exits on SIGTERM, or when stdin closes
// with --exit-with-stdin.
const path = require('node:path');
const ft = require(path.join(__dirname, '../node_modules/fast-tcp'));

const at = process.argv.indexOf('--ipc');
const where = at > 0 ? process.argv[at + 1] : 0;
const server = new ft.Server();
server.on('connection', (sock) => {
  sock.on('error', () => {});
  sock.on('sum', (d, cb) => cb(d.a + d.b));
  sock.on('data', (d) => sock.emit('data', d));
});
server.listen(where, () => {
  const a = server._server.address();
  console.log(typeof a === 'string' ? `listening on ipc://${a}` : `listening on tcp://127.0.0.1:${a.port}`);
});
process.on('SIGTERM', () => process.exit(0));
if (process.argv.includes('--exit-with-stdin')) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
