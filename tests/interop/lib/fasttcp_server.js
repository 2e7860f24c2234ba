'use strict';
// npm fast-tcp 3.3.2's server for the weft clients' tests (C, python, lua):
// "sum" answers its ack with data.a + data.b, a plain message (event
// "data") comes back as it came. For the matrix
// (fasttcp_client_matrix.test.js): "echo" comes back as "echo", or as the
// ack's data when one is asked; "q" is logged in arrival order
// ("ctl:log" answers the log); "ctl:ask" DATA asks the client "question"
// DATA (its answer comes back as "ctl:answer"); "ctl:rooms" and "ctl:id" answer
// the sender's rooms and id; "ctl:join" ROOM joins it on the server's side;
// "ctl:nonfinite" sends it NaN, Infinity, -Infinity as "nonfinite"; "ctl:send" [event, data, {rooms, sockets,
// except}] emits through the server ("self" in except is the sender).
// Prints "listening on tcp://127.0.0.1:PORT" (or ipc://PATH with --ipc
// PATH; --port P picks the port); exits on SIGTERM, or when stdin closes
// with --exit-with-stdin.
const path = require('node:path');
const ft = require(path.join(__dirname, '../node_modules/fast-tcp'));

const arg = (name) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
};
const where = arg('--ipc') || Number(arg('--port') || 0);
const server = new ft.Server();
const log = [];
server.on('connection', (sock) => {
  sock.on('error', () => {});
  sock.on('sum', (d, cb) => cb(d.a + d.b));
  sock.on('data', (d) => sock.emit('data', d));
  sock.on('echo', (d, cb) => (cb ? cb(d) : sock.emit('echo', d)));
  sock.on('q', (d) => log.push(d));
  sock.on('ctl:log', (d, cb) => cb(log));
  sock.on('ctl:id', (d, cb) => cb(sock.id));
  sock.on('ctl:join', (room, cb) => { server.join(room, sock.id); cb(true); });
  sock.on('ctl:nonfinite', (d, cb) => {
    for (const n of [NaN, Infinity, -Infinity]) sock.emit('nonfinite', n);
    cb(true);
  });
  sock.on('ctl:rooms', (d, cb) => cb(Object.keys(sock._rooms).sort()));
  sock.on('ctl:ask', (data, cb) => {
    sock.emit('question', data, (answer) => sock.emit('ctl:answer', answer));
    cb(true);
  });
  sock.on('ctl:send', ([event, data, opts], cb) => {
    const except = (opts.except || []).map((id) => (id === 'self' ? sock.id : id));
    server.emit(event, data, { ...opts, except });
    cb(true);
  });
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
