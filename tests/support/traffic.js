'use strict';
//
// The known traffic of the metrics tests (issue #17), one copy for every
// front end that checks exact counters: tests/metrics/ (the CLI),
// node/test/obs.test.js and lua/tests/obs_peer.js (Python has its own, in
// Python). Everything on 127.0.0.1; every wait is bounded. The WebSocket
// class is the caller's (the npm `ws` of its own node_modules).
//
const http = require('node:http');
const net = require('node:net');

/** An upgrade without Sec-WebSocket-Key: refused with 400. */
const NO_KEY = 'GET /primus HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Version: 13\r\n\r\n';

function within(promise, ms, what) {
  let timer;
  return Promise.race([promise, new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  })]).finally(() => clearTimeout(timer));
}

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

/** One request: { status, headers, body }. */
function get(port, target, method = 'GET') {
  return within(new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  }), 5000, `${method} ${target}`);
}

/** One raw request on its own connection; resolves with the status line's code. */
function rawStatus(port, request) {
  return within(new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(request));
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d) => { got += d; });
    s.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1])));
    s.on('error', reject);
  }), 5000, 'raw request');
}

async function openWs(WebSocket, url) {
  const ws = new WebSocket(url);
  await within(new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); }), 5000, 'open');
  return ws;
}

/** Sends `n` messages and waits for their echoes. */
async function echoes(ws, msg, n) {
  let got = 0;
  const done = new Promise((resolve) => ws.on('message', (d) => {
    if (String(d) === msg && ++got === n) resolve();
  }));
  for (let i = 0; i < n; i++) ws.send(msg);
  await within(done, 5000, 'echoes');
}

/** Sends one message over a max length of 100; resolves with the close code. */
async function oversize(WebSocket, url) {
  const ws = await openWs(WebSocket, url);
  return within(new Promise((resolve) => {
    ws.on('close', (code) => resolve(code));
    ws.send(`"${'x'.repeat(200)}"`);
  }), 5000, 'close 1009');
}

/**
 * 3 connections echoing 5 '"hi"' each, one refused handshake, one oversize
 * message; closes the 3 and resolves with { refused, oversize } (the status
 * and the close code). The server has not necessarily seen the closes yet.
 */
async function knownTraffic(WebSocket, port) {
  const url = `ws://127.0.0.1:${port}/primus`;
  const clients = [];
  for (let i = 0; i < 3; i++) clients.push(await openWs(WebSocket, url));
  for (const ws of clients) await echoes(ws, '"hi"', 5);
  const refused = await rawStatus(port, NO_KEY);
  const code = await oversize(WebSocket, url);
  for (const ws of clients) ws.close();
  return { refused, oversize: code };
}

/** The value of one series of a text exposition (it must be there, once). */
function series(text, name) {
  const lines = text.split('\n').filter((l) => l.startsWith(`${name} `));
  if (lines.length !== 1) throw new Error(`series ${name}: ${lines.length} lines`);
  return Number(lines[0].slice(name.length + 1));
}

/** Scrapes `path` until the server has no open connection: { page, scrapes }. */
async function scrapeUntilClosed(port, path = '/metrics') {
  for (let scrapes = 1; scrapes <= 250; scrapes++) {
    const page = await get(port, path);
    if (series(page.body, 'weft_connections{transport="websockets"}') === 0) return { page, scrapes };
    await delay(20);
  }
  throw new Error('connections did not close');
}

module.exports = { NO_KEY, within, delay, get, rawStatus, openWs, echoes, oversize, knownTraffic, series, scrapeUntilClosed };
