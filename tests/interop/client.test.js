'use strict';
//
// weft's client, through the CLI `weft connect URL …`, websockets
// transformer: the battery of lib/cli.js against the Primus 8 server and
// weft's test server, then `--echo` against the npm ws server.
//
const assert = require('node:assert/strict');
const { describe, test } = require('node:test');
const h = require('./lib/harness');
const { CLI, startCli, cliBattery } = require('./lib/cli');

cliBattery({ transformer: 'websockets' });

// ---------------------------------------------------------------------------
// weft connect --echo: a plain WebSocket echo client (what conformance
// suites drive), against the npm `ws` server with permessage-deflate
// ---------------------------------------------------------------------------

async function wsServer(t, onConnection) {
  const { WebSocketServer } = require('ws');
  const wss = new WebSocketServer({ host: h.HOST, port: 0, perMessageDeflate: { threshold: 0 } });
  t.after(() => new Promise((resolve) => {
    for (const c of wss.clients) c.terminate();
    wss.close(resolve);
  }));
  wss.on('connection', onConnection);
  await new Promise((resolve) => wss.once('listening', resolve));
  return `ws://${h.HOST}:${wss.address().port}/echo`;
}

describe('weft connect --echo (CLI) against the npm ws server', { skip: CLI ? false : 'WEFT_CLI not set' }, () => {
  for (const compression of [true, false]) {
    test(`text as text, binary as binary${compression ? ', compressed' : ''}; the server's close ends it with status 0`,
      { timeout: 15000 }, async (t) => {
        const big = Buffer.alloc(100000);
        for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
        const sent = ['hello ☃', Buffer.from([0, 1, 2, 255]), 'x'.repeat(5000) + '☃', big, ''];
        const seen = {};
        const done = new Promise((resolve, reject) => {
          const url = wsServer(t, (ws, req) => {
            seen.offer = req.headers['sec-websocket-extensions'];
            seen.ext = ws.extensions;
            const got = [];
            ws.on('message', (d, binary) => {
              got.push({ d, binary });
              if (got.length === sent.length) {
                ws.close(1000);
                resolve(got);
              }
            });
            ws.on('error', reject);
            for (const m of sent) ws.send(m);
          });
          seen.url = url;
        });
        const cli = startCli(t, await seen.url, ['--echo', ...(compression ? ['--compression'] : [])]);
        const got = await h.withTimeout(done, 10000, `echoes; ${cli.describe()}`);
        for (let i = 0; i < sent.length; i++) {
          const binary = Buffer.isBuffer(sent[i]);
          assert.equal(got[i].binary, binary, `message ${i} type`);
          assert.ok(Buffer.from(got[i].d).equals(binary ? sent[i] : Buffer.from(sent[i])), `message ${i} content`);
        }
        if (compression) {
          assert.match(seen.offer, /^permessage-deflate; client_no_context_takeover; client_max_window_bits$/);
          assert.match(seen.ext, /permessage-deflate/);
        } else {
          assert.equal(seen.offer, undefined);
        }
        assert.deepStrictEqual(await cli.waitExit(), { code: 0, signal: null }, cli.describe());
        assert.equal(cli.out.length, 0, 'echo prints no messages');
        assert.equal(cli.findErr(/^(error|reconnect)/), -1, cli.describe());
      });
  }

  test('--max-length: a longer message fails the connection with 1009', { timeout: 15000 }, async (t) => {
    let closed;
    const code = new Promise((resolve) => { closed = resolve; });
    const url = await wsServer(t, (ws) => {
      ws.on('close', (c) => closed(c));
      ws.send('y'.repeat(101));
    });
    const cli = startCli(t, url, ['--echo', '--max-length', '100']);
    assert.equal(await h.withTimeout(code, 10000, `close code; ${cli.describe()}`), 1009);
    assert.deepStrictEqual(await cli.waitExit(), { code: 0, signal: null }, cli.describe());
    assert.ok(cli.findErr(/^error protocol /) >= 0, cli.describe());
  });

  test('bad options are refused with status 2', { timeout: 10000 }, async (t) => {
    for (const args of [['--max-length', '0'], ['--max-length', '-1'], ['--max-length', '12k'],
      ['--max-length'], ['--echo', '--parser', 'json'], ['--compression', '1']]) {
      const cli = startCli(t, 'ws://127.0.0.1:1/x', args, { stdinFile: '/dev/null' });
      assert.deepStrictEqual(await cli.waitExit(), { code: 2, signal: null }, `${args.join(' ')}: ${cli.describe()}`);
    }
  });
});
