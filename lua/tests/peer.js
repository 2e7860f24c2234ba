'use strict';
// A peer for lua/tests/test_parity.lua (NODE_PATH: tests/interop/node_modules):
//   node peer.js get URL          an HTTP GET: { status, type, body }
//   node peer.js close URL TEXT   a WebSocket (the npm `ws` client) that
//                                 sends TEXT and reports how the server
//                                 closed: { code, messages }
// Prints one line of JSON (or { error }) and exits by itself within 10 s.
const http = require('node:http');

const [mode, url, text] = process.argv.slice(2);
const done = (r) => { console.log(JSON.stringify(r)); process.exit(r.error ? 1 : 0); };
setTimeout(() => done({ error: 'timed out' }), 10000).unref();

if (mode === 'get') {
  http.get(url, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d) => { body += d; });
    res.on('end', () => done({ status: res.statusCode, type: res.headers['content-type'] || '', body }));
  }).on('error', (e) => done({ error: String(e) }));
} else if (mode === 'close') {
  const WebSocket = require('ws');
  const ws = new WebSocket(url);
  const messages = [];
  ws.on('open', () => ws.send(text));
  ws.on('message', (m) => messages.push(String(m)));
  ws.on('close', (code) => done({ code, messages }));
  ws.on('error', (e) => done({ error: String(e) }));
} else {
  done({ error: `unknown mode ${mode}` });
}
