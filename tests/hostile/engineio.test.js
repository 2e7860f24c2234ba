'use strict';
//
// Hostile engine.io peers (issue #18) against `weft serve --transformer
// websockets,engine.io --mode echo` while a crowd of 10 WebSocket clients
// and 10 engine.io clients (5 polling only, 5 upgraded) echoes throughout:
// every bad request gets engine.io's answer, the session it names ends when
// engine.io would end it, and no crowd echo is lost or takes a second. Then
// 1000 polling sessions opened and abandoned expire, and the server's
// memory (VmRSS) comes back to where it was.
//
const assert = require('node:assert/strict');
const http = require('node:http');
const net = require('node:net');
const { describe, test } = require('node:test');

const { within, delay } = require('../support/traffic');
const { CLI, MiB, WebSocket, startServer, startCrowd, abandonRounds, oversizePost } = require('./lib/peers');

const MAX_PAYLOAD = 65536;
const SERVER = ['--transformer', 'websockets,engine.io', '--ping-interval', '0', '--max-length', String(MAX_PAYLOAD)];

/** One request on its own connection: { status, type, body }. */
function request(port, method, target, body) {
  return within(new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, method, agent: false,
      headers: body === undefined ? {} : { 'Content-Type': 'text/plain;charset=UTF-8' } }, (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body: Buffer.concat(parts).toString('latin1') }));
    });
    req.on('error', reject);
    req.end(body);
  }), 15000, `${method} ${target}`);
}

const at = (sid, transport = 'polling') => `/primus/?EIO=4&transport=${transport}${sid ? `&sid=${sid}` : ''}`;

/** A polling handshake: the sid. */
// What the server answers to raw bytes, read to the end of the answer's head.
function rawAnswer(port, bytes) {
  return within(new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    socket.on('data', (d) => { got += d.toString('latin1'); if (got.includes('\r\n\r\n')) { socket.destroy(); resolve(got); } });
    socket.on('error', reject);
    socket.write(bytes);
  }), 5000, 'a raw answer');
}

async function handshake(port) {
  const r = await request(port, 'GET', at());
  assert.equal(r.status, 200);
  return JSON.parse(r.body.slice(1)).sid;
}

/** engine.io's error answer. */
function isError(r, code, message) {
  assert.equal(r.status, 400, r.body);
  assert.deepEqual(JSON.parse(r.body), { code, message });
}

describe('hostile engine.io peers against weft serve (10 WebSocket and 10 engine.io clients echoing throughout)', { skip: CLI ? false : 'WEFT_CLI not set' }, () => {
  test('bad requests get engine.io\'s answers; bad sessions end; the crowd is served', { timeout: 60000 }, async (t) => {
    const srv = await startServer(t, SERVER);
    const crowd = await startCrowd(t, srv.url, { ws: 10, eio: 10 });
    const { port } = srv;

    // Unknown sid, EIO=3, a transport that is not engine.io's, a handshake by POST.
    isError(await request(port, 'GET', at('AAAAAAAAAAAAAAAAAAAA')), 1, 'Session ID unknown');
    isError(await request(port, 'POST', at('AAAAAAAAAAAAAAAAAAAA'), '4"x"'), 1, 'Session ID unknown');
    isError(await request(port, 'GET', '/primus/?EIO=3&transport=polling'), 5, 'Unsupported protocol version');
    isError(await request(port, 'GET', '/primus/?EIO=4&transport=flashsocket'), 0, 'Transport unknown');
    isError(await request(port, 'GET', '/primus/?EIO=4'), 0, 'Transport unknown');
    isError(await request(port, 'POST', at(), '4"x"'), 2, 'Bad handshake method');

    // Malformed payloads: an unknown packet type, an empty packet, bad
    // base64, text that is not UTF-8. Each ends its session (the next poll
    // finds no session), and the server says why.
    for (const body of ['x', '4"a"\x1e\x1e4"b"', 'b!!!!', Buffer.from([0x34, 0x22, 0xff, 0xfe, 0x22])]) {
      const sid = await handshake(port);
      const r = await request(port, 'POST', at(sid), body);
      assert.equal(r.status, 200);
      isError(await request(port, 'GET', at(sid)), 1, 'Session ID unknown');
    }
    assert.ok(srv.errors.some((l) => /^error protocol /.test(l)), 'a protocol error was said');
    assert.ok(srv.errors.some((l) => /^error utf8 /.test(l)), 'a UTF-8 error was said');

    // A POST over maxPayload is refused from its head: 413 before a byte of
    // the body is sent, and the session ends.
    {
      const sid = await handshake(port);
      const { answer, grew } = await oversizePost(t, srv, at(sid));
      assert.match(answer, /^HTTP\/1\.1 413 /);
      assert.ok(grew < 4 * MiB, 'nothing of the body was buffered');
      isError(await request(port, 'GET', at(sid)), 1, 'Session ID unknown');
    }

    // Two Content-Lengths (a proxy may frame by either) and a chunked POST:
    // refused from the head, the session ends.
    for (const head of ['Content-Length: 4\r\nContent-Length: 40', 'Transfer-Encoding: chunked']) {
      const sid = await handshake(port);
      const answer = await rawAnswer(port, `POST ${at(sid)} HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\n${head}\r\n\r\n4"x"`);
      assert.match(answer, head.startsWith('Transfer') ? /^HTTP\/1\.1 411 / : /^HTTP\/1\.1 400 /);
      assert.match(answer, /\r\nConnection: close\r\n/);
      isError(await request(port, 'GET', at(sid)), 1, 'Session ID unknown');
    }

    // Overlapping polls: the second is refused, the first gets the close
    // packet, the session is gone.
    {
      const sid = await handshake(port);
      const first = request(port, 'GET', at(sid));
      await delay(100);
      const second = await request(port, 'GET', at(sid));
      assert.equal(second.status, 400);
      assert.equal((await first).body, '1');
      isError(await request(port, 'GET', at(sid)), 1, 'Session ID unknown');
    }

    // An upgrade for a sid that does not exist: engine.io's 400 in plain text.
    {
      const ws = new WebSocket(`ws://127.0.0.1:${port}${at('AAAAAAAAAAAAAAAAAAAA', 'websocket')}`);
      const status = await within(new Promise((resolve) => {
        ws.on('unexpected-response', (req, res) => { resolve(res.statusCode); req.destroy(); });
        ws.on('open', () => resolve(101));
        ws.on('error', () => {});
      }), 5000, 'the refused upgrade');
      assert.equal(status, 400);
    }

    // A probe that never completes: answered "3probe", then closed by the
    // server after engine.io's upgradeTimeout (10 s); the session goes on
    // polling.
    {
      const sid = await handshake(port);
      const ws = new WebSocket(`ws://127.0.0.1:${port}${at(sid, 'websocket')}`);
      t.after(() => ws.terminate());
      const frames = [];
      ws.on('message', (d) => frames.push(d.toString()));
      await within(new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); }), 5000, 'the probe open');
      const began = Date.now();
      ws.send('2probe');
      const closed = new Promise((resolve) => ws.once('close', resolve));
      await within(closed, 15000, 'the abandoned probe closed by the server');
      const after = Date.now() - began;
      assert.deepEqual(frames, ['3probe']);
      assert.ok(after >= 9000 && after < 13000, `the probe was closed after ${after} ms`);
      assert.equal((await request(port, 'POST', at(sid), '4"still here"')).status, 200);
      const polled = await request(port, 'GET', at(sid));
      assert.ok(polled.body.split('\x1e').includes('4"still here"'), polled.body);
    }

    const worst = await crowd.stop();
    t.diagnostic(`worst crowd echo ${worst} ms`);
    assert.ok(worst < 1000, `a crowd echo took ${worst} ms`);
    assert.deepEqual(await srv.stop(), { code: 0, signal: null });
  });

  test('1000 polling sessions opened and abandoned expire; memory comes back', { timeout: 60000 }, async (t) => {
    const srv = await startServer(t, [...SERVER, '--session-heartbeat', '1000,1000', '--metrics', '/metrics']);
    const crowd = await startCrowd(t, srv.url, { ws: 10, eio: 10 });
    const open = async () => /weft_connections\{transport="engine.io"\} (\d+)/.exec((await request(srv.port, 'GET', '/metrics')).body)[1];
    // pingInterval + pingTimeout after its handshake, an abandoned session is gone.
    await abandonRounds(t, srv, { openOne: () => handshake(srv.port), count: open, crowd: 10, what: 'session' });
    const worst = await crowd.stop();
    assert.ok(worst < 1000, `a crowd echo took ${worst} ms`);
    assert.deepEqual(await srv.stop(), { code: 0, signal: null });
  });
});
