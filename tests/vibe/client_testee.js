'use strict';
//
// The client testee of Vibe's own suite (vibe-protocol 3.0.0-Alpha9,
// test/client.js; the seed's "Client Testee"): GET /open?uri= on
// 127.0.0.1:9000 (the port the suite asks) makes weft's client — the C
// core's, through the Node host, transformer 'vibe', emitter on — connect
// to `uri` with the handlers of the package's example testee, written
// against weft's emitter: "abort" ends the client, "echo" is sent back,
// "/reply/inbound" resolves or rejects, "/reply/outbound" emits "test"
// asking for an answer and sends "done" with it. The Node host because the
// suite drives the testee over HTTP beside the client, which Node's http
// module gives in a few lines; the client itself is the core's.
// Prints "listening" when ready.
//
const http = require('node:http');
const path = require('node:path');
const weft = require(path.join(__dirname, '..', '..', 'node'));

const clients = new Set();

function open(uri) {
  const c = weft.connect(uri, { transformer: 'vibe', emitter: true, reconnect: { retries: 0 } });
  clients.add(c);
  c.on('error', () => {});
  c.on('end', () => clients.delete(c));
  c.on('abort', () => c.end());
  c.on('echo', (data) => c.send('echo', data));
  c.on('/reply/inbound', (data, ack) => (data.type === 'resolved' ? ack.resolve(data.data) : ack.reject(data.data)));
  c.on('/reply/outbound', (data) => {
    c.send('test', data.data, (err, value) => c.send('done', err ? err.reason : value));
  });
}

http.createServer((req, res) => {
  const u = new URL(req.url, 'http://localhost');
  if (u.pathname === '/open') open(u.searchParams.get('uri'));
  res.end();
}).listen(Number(process.argv[2] || 9000), '127.0.0.1', () => console.log('listening'));

process.on('SIGTERM', () => {
  for (const c of clients) c.end();
  process.exit(0);
});
