'use strict';
//
// weft's engine.io client (the CLI) against the npm engine.io 6.6 server
// itself, no Primus on it: the engine.io layer alone — the handshake, the
// upgrade (or its absence), the v4 heartbeat the server drives, messages
// both ways, and the close from either side. The server echoes every
// message; Primus's own heartbeat is off in the client (--ping-timeout 0).
//
const assert = require('node:assert/strict');
const http = require('node:http');
const { describe, test } = require('node:test');
const h = require('./lib/harness');
const { CLI, startCli } = require('./lib/cli');

/** An engine.io server at /primus/ on 127.0.0.1:0 that echoes and records. */
async function engineServer(t, opts = {}) {
  const { Server } = require('engine.io');
  const httpServer = http.createServer();
  const eio = new Server({ pingInterval: 200, pingTimeout: 400, ...opts });
  eio.attach(httpServer, { path: '/primus' });
  const rec = { sockets: [] };
  eio.on('connection', (socket) => {
    const s = { socket, first: socket.transport.name, upgraded: null, pongs: 0, messages: [], closed: null, lastBeat: Date.now() };
    rec.sockets.push(s);
    socket.on('upgrade', (tr) => { s.upgraded = tr.name; });
    socket.on('heartbeat', () => { s.pongs++; s.lastBeat = Date.now(); });
    socket.on('message', (m) => { s.messages.push(m); socket.send(m); });
    socket.on('close', (reason) => { s.closed = reason; });
  });
  await new Promise((resolve) => httpServer.listen(0, h.HOST, resolve));
  t.after(() => new Promise((resolve) => {
    eio.close();
    httpServer.close(() => resolve());
    httpServer.closeAllConnections();
  }));
  return { rec, url: `ws://${h.HOST}:${httpServer.address().port}/primus` };
}

describe('weft connect (CLI, engine.io) against the npm engine.io server', { skip: CLI ? false : 'WEFT_CLI not set' }, () => {
  for (const transports of ['polling,websocket', 'polling', 'websocket']) {
    test(`${transports}: handshake, heartbeat, echo, close`, { timeout: 15000 }, async (t) => {
      const srv = await engineServer(t);
      const cli = startCli(t, srv.url, ['--transformer', 'engine.io', '--transports', transports, '--ping-timeout', '0']);
      await cli.waitErr(/^open$/);
      await h.waitUntil(() => srv.rec.sockets.length === 1, 3000, 'connection');
      const s = srv.rec.sockets[0];
      assert.equal(s.first, transports === 'websocket' ? 'websocket' : 'polling');
      if (transports === 'polling,websocket') {
        await h.waitUntil(() => s.upgraded, 3000, 'the upgrade');
        assert.equal(s.upgraded, 'websocket');
      }
      await cli.echo({ over: transports, text: 'é😀\u2028' });
      // Pings every 200 ms, each answered within 400 ms (or the server
      // closes the session): five more pongs, the session kept throughout.
      // (Five intervals take 1 s; the bound leaves room for a loaded ASan run.)
      const pongs = s.pongs;
      await h.waitUntil(() => s.pongs - pongs >= 5 || s.closed !== null, 5000, 'five pongs');
      assert.equal(s.closed, null, 'the server kept the session');
      assert.ok(s.pongs - pongs >= 5, `pongs: ${s.pongs - pongs}`);
      if (transports === 'polling') assert.equal(s.upgraded, null, 'no upgrade when polling only');
      await cli.echo(['still', 'there']);
      // The messages as the server got them: JSON text, U+2028 escaped (as Primus does).
      assert.deepStrictEqual(s.messages, [`{"over":"${transports}","text":"é😀\\u2028"}`, '["still","there"]']);
      // The client ends: the server's session closes.
      cli.send('/end');
      assert.deepStrictEqual(await cli.waitExit(), { code: 0, signal: null }, cli.describe());
      await h.waitUntil(() => s.closed, 3000, 'the server saw the close');
      assert.match(s.closed, /^(transport close|forced close)$/);
    });
  }

  test('the server closes the session: the client closes, then reconnects (no primus::server::close)', { timeout: 15000 }, async (t) => {
    const srv = await engineServer(t);
    const cli = startCli(t, srv.url, ['--transformer', 'engine.io', '--ping-timeout', '0', '--reconnect-min', '100', '--reconnect-max', '200']);
    await cli.waitErr(/^open$/);
    await h.waitUntil(() => srv.rec.sockets.length === 1, 3000, 'connection');
    const mark = cli.err.length;
    srv.rec.sockets[0].socket.close();
    await cli.waitErr(/^close$/, { from: mark });
    await cli.waitErr(/^reconnected \d+$/, { from: mark, timeout: 5000 });
    await h.waitUntil(() => srv.rec.sockets.length === 2, 3000, 'a second session');
    await cli.echo({ again: true });
    cli.send('/end');
    assert.deepStrictEqual(await cli.waitExit(), { code: 0, signal: null }, cli.describe());
  });

  test('a server that stops pinging: the client gives up after pingInterval + pingTimeout', { timeout: 15000 }, async (t) => {
    const srv = await engineServer(t, { pingInterval: 300, pingTimeout: 200 });
    const cli = startCli(t, srv.url, ['--transformer', 'engine.io', '--transports', 'websocket', '--ping-timeout', '0', '--strategy', 'none']);
    await cli.waitErr(/^open$/);
    await h.waitUntil(() => srv.rec.sockets.length === 1, 3000, 'connection');
    // The server's heartbeat stops (no more pings, no timeout of its own).
    const socket = srv.rec.sockets[0].socket;
    const mark = cli.err.length;
    const t0 = Date.now();
    clearTimeout(socket.pingIntervalTimer);
    clearTimeout(socket.pingTimeoutTimer);
    socket.pingIntervalTimer = socket.pingTimeoutTimer = null;
    await cli.waitErr(/^close$/, { from: mark, timeout: 5000 });
    const waited = Date.now() - t0;
    // The client counts pingInterval + pingTimeout (500 ms) from the last
    // ping it got (or the handshake), which came up to one interval before
    // t0: measure from the server's last pong (the client answers a ping
    // at once) or the connection.
    const sinceBeat = Date.now() - srv.rec.sockets[0].lastBeat;
    assert.ok(sinceBeat >= 450 && waited < 2000, `closed ${waited} ms after the pings stopped, ${sinceBeat} ms after the last pong`);
    assert.ok(cli.findErr(/^error timeout /, mark) >= 0, cli.describe());
  });
});
