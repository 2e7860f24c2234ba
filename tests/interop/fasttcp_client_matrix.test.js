'use strict';
//
// weft's C client (build/tests/weft_ft_client, tests/support/ft_client_peer.c)
// against npm fast-tcp 3.3.2's server (lib/fasttcp_server.js, its own
// process), issue #20: every data type with its edge values as events and
// as acks, acks asked by the server, rooms and the server's emits, and
// reconnect after the server is killed and restarted on the same port.
//
const assert = require('node:assert/strict');
const { describe, test } = require('node:test');
const { spawn } = require('node:child_process');
const path = require('node:path');
const msgpack = require('msgpack-lite');
const h = require('./lib/harness');
const { startFastTcpServer } = require('./lib/ft_server_proc');
const { cases } = require('./lib/ft_values');

const BIN = path.dirname(process.env.WEFT_TEST_SERVER || path.join(__dirname, '../../build/tests/x'));
const CLIENT = path.join(BIN, 'weft_ft_client');

const startServer = startFastTcpServer;

async function startClient(t, url) {
  const child = spawn(CLIENT, [url], { stdio: ['pipe', 'pipe', 'pipe'] });
  const c = { msgs: [], err: '', tag: 0, child };
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop();
    for (const l of lines) c.msgs.push(msgpack.decode(Buffer.from(l, 'hex')));
  });
  child.stderr.on('data', (d) => { c.err += d; });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  t.after(async () => {
    child.stdin.end();
    assert.equal(await h.withTimeout(exited, 5000, 'weft_ft_client exit'), 0, c.err);
  });
  c.send = (cmd) => child.stdin.write(`${msgpack.encode(cmd).toString('hex')}\n`);
  c.take = async (pred, what, ms = 5000) => {
    const i = await h.waitUntil(() => c.msgs.findIndex(pred) + 1, ms, `${what} (stderr: ${c.err})`);
    return c.msgs.splice(i - 1, 1)[0];
  };
  c.event = async (name, what = '', ms = 5000) =>
    (await c.take((m) => m[0] === 'event' && m[1] === name, `event ${name} ${what}`, ms))[2];
  // A room request with an ack (npm fast-tcp's server does not answer
  // them: weft settles them once they are on the wire).
  c.room = async (...cmd) => {
    const tag = ++c.tag;
    c.send([...cmd, tag]);
    const [, , status] = await c.take((m) => m[0] === 'ack' && m[1] === tag, `ack of ${cmd[0]}`);
    assert.equal(status, 'OK', `ack of ${cmd.join(' ')}`);
  };
  c.ask = async (event, value, ms) => {
    const tag = ++c.tag;
    c.send(['ask', tag, event, value === undefined ? [] : [value]]);
    const [, , status, v] = await c.take((m) => m[0] === 'ack' && m[1] === tag, `ack of ${event}`, ms);
    assert.equal(status, 'OK', `ack of ${event}: ${v}`);
    return v;
  };
  await h.waitUntil(() => /^open$/m.test(c.err), 5000, `weft_ft_client open (stderr: ${c.err})`);
  return c;
}

describe('weft C client -> npm fast-tcp 3.3.2 server (its own process)', () => {
  test('every data type with its edge values: events, acks, and acks the server asks', { timeout: 30000 }, async (t) => {
    const srv = await startServer(t);
    const c = await startClient(t, srv.url);
    for (const cs of cases()) {
      const [label, value] = cs;
      const back = cs.length > 2 ? cs[2] : value;
      c.send(['emit', 'echo', [value]]);
      assert.deepStrictEqual((await c.event('echo', label))[0], back, `event: ${label}`);
      // fast-tcp's empty ack data reaches weft's C client as a null value.
      assert.deepStrictEqual(await c.ask('echo', value), back === undefined ? null : back, `ack: ${label}`);
      // The server asks the client (which answers with the value it got).
      assert.equal(await c.ask('ctl:ask', value), true);
      assert.deepStrictEqual((await c.event('question'))[0], back, `asked: ${label}`);
      assert.deepStrictEqual((await c.event('ctl:answer'))[0], back, `answered: ${label}`);
    }
    // The int48/double boundary: past ±(2^47-1) (and -2^47) weft sends
    // doubles, which the server reads as the same numbers. (npm fast-tcp's
    // writer throws on integers past 48 bits, so it cannot echo them: the
    // server's log of "q" is compared instead.)
    const edge = [2 ** 47, -(2 ** 47) - 1, 2 ** 53, 2 ** 47 - 0.5, 2 ** 47 - 1, -(2 ** 47)];
    for (const n of edge) c.send(['emit', 'q', [n]]);
    assert.deepStrictEqual(await c.ask('ctl:log'), edge);
  });

  test('join, leave and leave-all from the client; the server emits to all, others, a room, an id', { timeout: 20000 }, async (t) => {
    const srv = await startServer(t);
    const [a, b, c] = [await startClient(t, srv.url), await startClient(t, srv.url),
      await startClient(t, srv.url)];
    a.send(['join', 'r1']);
    a.send(['join', 'r2']);
    b.send(['join', 'r2']);
    assert.deepStrictEqual(await a.ask('ctl:rooms'), ['r1', 'r2']);
    assert.deepStrictEqual(await b.ask('ctl:rooms'), ['r2']);
    a.send(['leave', 'r1']);
    assert.deepStrictEqual(await a.ask('ctl:rooms'), ['r2']);
    await c.room('join', 'r3');
    await c.room('join', 'r4');
    assert.deepStrictEqual(await c.ask('ctl:rooms'), ['r3', 'r4']);
    await c.room('leave', 'r3');
    assert.deepStrictEqual(await c.ask('ctl:rooms'), ['r4']);
    await c.room('join', 'r3');
    await c.room('leave_all');
    assert.deepStrictEqual(await c.ask('ctl:rooms'), []);
    c.send(['join', 'r3']);
    c.send(['join', 'r4']);
    assert.deepStrictEqual(await c.ask('ctl:rooms'), ['r3', 'r4']);
    c.send(['leave_all']);
    assert.deepStrictEqual(await c.ask('ctl:rooms'), []);
    const cid = await c.ask('ctl:id');
    assert.equal(typeof cid, 'string');
    await a.ask('ctl:send', ['news', 'all', {}]);
    await a.ask('ctl:send', ['news', 'others', { except: ['self'] }]);
    await a.ask('ctl:send', ['news', 'room', { rooms: ['r2'], except: ['self'] }]);
    await a.ask('ctl:send', ['news', 'room with sender', { rooms: ['r2'] }]);
    await a.ask('ctl:send', ['news', 'id', { sockets: [cid] }]);
    await a.ask('ctl:send', ['news', 'end', {}]);
    const got = {};
    for (const [k, cl] of Object.entries({ a, b, c })) {
      got[k] = [];
      for (;;) {
        const [d] = await cl.event('news');
        if (d === 'end') break;
        got[k].push(d);
      }
    }
    assert.deepStrictEqual(got, {
      a: ['all', 'room with sender'],
      b: ['all', 'others', 'room', 'room with sender'],
      c: ['all', 'others', 'id'],
    });
  });

  test('reconnect after the server is killed and restarted: queued emits arrive once, in order', { timeout: 20000 }, async (t) => {
    const first = await startServer(t);
    const c = await startClient(t, first.url);
    c.send(['emit', 'q', ['before']]);
    assert.deepStrictEqual(await c.ask('ctl:log'), ['before']);
    process.kill(first.child.pid, 'SIGKILL');
    await first.exited;
    await h.waitUntil(() => /^close$/m.test(c.err), 5000, 'the client saw the close');
    for (let i = 1; i <= 20; i++) c.send(['emit', 'q', [i]]);
    await h.delay(300); // a few reconnect attempts fail meanwhile
    const second = await startServer(t, first.port);
    assert.equal(second.port, first.port);
    await h.waitUntil(() => /^reconnected$/m.test(c.err), 10000, `reconnected (stderr: ${c.err})`);
    assert.deepStrictEqual(await c.ask('ctl:log'), Array.from({ length: 20 }, (_, i) => i + 1));
  });
});
