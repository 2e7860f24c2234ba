'use strict';
// Known traffic against a Lua weft server for lua/tests/test_obs.lua:
// node obs_peer.js PORT (NODE_PATH: tests/interop/node_modules, for `ws`).
// 3 connections echoing 5 '"hi"' each, one upgrade without
// Sec-WebSocket-Key (400), one message over the server's max_length 100
// (close 1009); then scrapes /metrics until the server has seen every close
// and prints one line of JSON: { refused, oversize, scrapes, status, type,
// body } (body: the last scrape). Exits by itself within 10 s.
const http = require('node:http');
const net = require('node:net');
const WebSocket = require('ws');

const port = Number(process.argv[2]);
const url = `ws://127.0.0.1:${port}/primus`;
setTimeout(() => { console.log(JSON.stringify({ error: 'timed out' })); process.exit(1); }, 10000).unref();

function get(target) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: target }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body }));
    }).on('error', reject);
  });
}

function rawStatus(request) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(request));
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d) => { got += d; });
    s.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1])));
    s.on('error', reject);
  });
}

function open() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function echoes(ws, msg, n) {
  let got = 0;
  const done = new Promise((resolve) => ws.on('message', (d) => { if (String(d) === msg && ++got === n) resolve(); }));
  for (let i = 0; i < n; i++) ws.send(msg);
  return done;
}

async function main() {
  const clients = [];
  for (let i = 0; i < 3; i++) clients.push(await open());
  for (const ws of clients) await echoes(ws, '"hi"', 5);
  const refused = await rawStatus('GET /primus HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n' +
    'Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n');
  const big = await open();
  const oversize = await new Promise((resolve) => {
    big.on('close', (code) => resolve(code));
    big.send(`"${'x'.repeat(200)}"`);
  });
  for (const ws of clients) ws.close();
  for (let scrapes = 1; scrapes <= 200; scrapes++) {
    const page = await get('/metrics');
    if (page.body.includes('\nweft_connections{transport="websockets"} 0\n')) {
      console.log(JSON.stringify({ refused, oversize, scrapes, status: page.status, type: page.type, body: page.body }));
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  console.log(JSON.stringify({ error: 'the sparks did not close' }));
}

main().catch((e) => { console.log(JSON.stringify({ error: String(e) })); process.exit(1); });
