'use strict';
//
// Hostile Vibe peers (issue #21) against `weft serve --transformer vibe
// --path /vibe --mode echo` while a crowd of 12 reference Vibe clients
// (vibe-protocol 3.0.0-Alpha9: 4 ws, 4 httpstream, 4 httplongpoll) echoes
// throughout: unknown ids, malformed bodies, an oversize body refused from
// its head, a streaming response nobody reads (bounded by max-queue, then
// ended), and 1000 sessions opened and abandoned (gone, memory back).
//
const assert = require('node:assert/strict');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { describe, test } = require('node:test');

require('../vibe/node20'); // the reference client on Node 20 (tests/vibe/node20.js)
const { within, delay } = require('../support/traffic');
const { CLI, MiB, startServer, abandonRounds, oversizePost } = require('./lib/peers');

const vibe = require(path.join(__dirname, '..', 'vibe', 'node_modules', 'vibe-protocol'));

const MAX_LENGTH = 65536;
const SERVER = ['--transformer', 'vibe', '--path', '/vibe', '--max-length', String(MAX_LENGTH),
  '--max-queue', String(MiB), '--metrics', '/metrics'];

/** One request on its own connection: { status, body }. */
function request(port, method, target, body) {
  return within(new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, method, agent: false }, (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(parts).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  }), 15000, `${method} ${target}`);
}

const at = (query) => `/vibe?${query}`;

/** A long-poll socket opened by hand: its id (nobody polls it). */
async function longpollOpen(port) {
  const r = await request(port, 'GET', at('transport=longpoll&when=open'));
  assert.equal(r.status, 200);
  return new URLSearchParams(r.body.slice(1)).get('id');
}

/** The crowd: reference Vibe clients echoing an event every 25 ms. */
async function startCrowd(t, port) {
  const uris = { ws: `ws://127.0.0.1:${port}/vibe`, httpstream: `http://127.0.0.1:${port}/vibe?transport=stream`,
    httplongpoll: `http://127.0.0.1:${port}/vibe?transport=longpoll` };
  const clients = [];
  for (const kind of Object.keys(uris)) {
    for (let i = 0; i < 4; i++) {
      const socket = vibe.open(uris[kind]);
      const c = { kind, socket, pending: new Map(), worst: 0, sent: 0, n: 0, closed: false };
      socket.on('error', () => {}).on('close', () => { c.closed = true; });
      socket.on('echo', (d) => {
        const sent = c.pending.get(d.n);
        if (sent === undefined) return;
        c.pending.delete(d.n);
        c.worst = Math.max(c.worst, Date.now() - sent);
      });
      await within(new Promise((resolve) => socket.once('open', resolve)), 5000, `crowd open (${kind})`);
      t.after(() => { if (!c.closed) socket.close(); });
      clients.push(c);
    }
  }
  const timer = setInterval(() => {
    for (const c of clients) {
      if (c.closed) continue;
      const n = c.n++;
      c.pending.set(n, Date.now());
      c.sent++;
      c.socket.send('echo', { n, pad: 'crowd' });
    }
  }, 25);
  t.after(() => clearInterval(timer)); // a failed test must not leave it running
  return {
    async stop() {
      clearInterval(timer);
      await delay(1000);
      let worst = 0;
      for (const [i, c] of clients.entries()) {
        assert.equal(c.closed, false, `crowd client ${i} (${c.kind}) was closed`);
        assert.equal(c.pending.size, 0, `crowd client ${i} (${c.kind}) lost ${c.pending.size} of ${c.sent} echoes`);
        assert.ok(c.sent > 0, `crowd client ${i} sent nothing`);
        worst = Math.max(worst, c.worst);
      }
      return worst;
    }
  };
}

const openCount = async (port) =>
  /weft_connections\{transport="vibe"\} (\d+)/.exec((await request(port, 'GET', '/metrics')).body)[1];

describe('hostile Vibe peers against weft serve (12 reference Vibe clients echoing throughout)', { skip: CLI ? false : 'WEFT_CLI not set' }, () => {
  test('bad requests get the reference\'s answers; bad sockets end; the crowd is served', { timeout: 60000 }, async (t) => {
    const srv = await startServer(t, SERVER);
    const { port } = srv;
    const crowd = await startCrowd(t, port);

    // Unknown ids and requests the reference does not know.
    const unknown = '00000000-0000-4000-8000-000000000000';
    assert.equal((await request(port, 'POST', at(`transport=longpoll&id=${unknown}`), 'data={}')).status, 500);
    assert.equal((await request(port, 'POST', at('transport=stream&id=x'), 'data={}')).status, 500);
    assert.equal((await request(port, 'GET', at(`transport=longpoll&when=poll&id=${unknown}`))).status, 500);
    assert.equal((await request(port, 'GET', at('transport=longpoll&when=poll'))).status, 500);
    assert.equal((await request(port, 'GET', at(`transport=longpoll&when=abort&id=${unknown}`))).status, 200);
    assert.equal((await request(port, 'GET', at('transport=sse&when=open'))).status, 501);
    assert.equal((await request(port, 'GET', at('when=open'))).status, 501);
    assert.equal((await request(port, 'GET', at('transport=longpoll&when=later'))).status, 501);
    assert.equal((await request(port, 'PUT', at('transport=longpoll'), 'data={}')).status, 405);

    // JSONP long polling: each answer is callback("<text>"); a callback
    // that is not a name is refused.
    {
      const open = await request(port, 'GET', at('transport=longpoll&when=open&jsonp=true&callback=vibe.cb_1'));
      const m = /^vibe\.cb_1\("\?id=([0-9a-f-]+)"\);$/.exec(open.body);
      assert.ok(m, open.body);
      const poll = await request(port, 'GET', at(`transport=longpoll&when=poll&id=${m[1]}`));
      assert.match(poll.body, /^vibe\.cb_1\("\?heartbeat=20000&_heartbeat=5000"\);$/);
      assert.equal((await request(port, 'GET', at('transport=longpoll&when=open&jsonp=true&callback=alert(1)'))).status, 400);
      assert.equal((await request(port, 'GET', at('transport=longpoll&when=open&jsonp=true'))).status, 400);
    }

    // Malformed bodies: no "data=" (400, the socket stays), then text that
    // is not JSON, JSON that is no event, and bytes that are not UTF-8: each
    // ends its socket (its next poll finds no socket), and the server says why.
    {
      const id = await longpollOpen(port);
      assert.equal((await request(port, 'POST', at(`transport=longpoll&id=${id}`), '{"type":"echo"}')).status, 400);
      assert.equal((await request(port, 'GET', at(`transport=longpoll&when=poll&id=${id}`))).body.slice(0, 11), '?heartbeat=');
    }
    for (const body of ['data=not json', 'data={"data":1}', 'data=[1,2]', Buffer.concat([Buffer.from('data={"type":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')])]) {
      const id = await longpollOpen(port);
      assert.equal((await request(port, 'POST', at(`transport=longpoll&id=${id}`), body)).status, 200);
      assert.equal((await request(port, 'GET', at(`transport=longpoll&when=poll&id=${id}`))).status, 500);
    }
    assert.ok(srv.errors.length === 0 || srv.errors.every((l) => !/Assertion|abort/i.test(l)), srv.errors.join('\n'));

    // A POST over max-length is refused from its head: 413 before a byte of
    // the body is sent.
    {
      const id = await longpollOpen(port);
      const { answer, grew } = await oversizePost(t, srv, at(`transport=longpoll&id=${id}`));
      assert.match(answer, /^HTTP\/1\.1 413 /);
      assert.ok(grew < 4 * MiB, 'nothing of the body was buffered');
    }

    // A streaming response nobody reads: its echoes pile up to max-queue
    // (1 MiB) past what the kernel holds, then the server ends the socket
    // (its POSTs find no socket) with its memory bounded.
    {
      const socket = net.connect(port, '127.0.0.1');
      t.after(() => socket.destroy());
      const id = await within(new Promise((resolve, reject) => {
        let got = '';
        const onData = (d) => {
          got += d.toString('latin1');
          const m = /data: \?id=([0-9a-f-]+)\n/.exec(got);
          if (m) { socket.removeListener('data', onData); socket.pause(); resolve(m[1]); }
        };
        socket.on('data', onData);
        socket.on('error', reject);
        socket.write(`GET ${at('transport=stream&when=open')} HTTP/1.1\r\nHost: a\r\n\r\n`);
      }), 5000, 'the stream\'s id');
      const rssBefore = srv.rss();
      const big = JSON.stringify({ id: '1', type: 'echo', data: 'x'.repeat(60000), reply: false });
      let refused = 0;
      for (let i = 0; i < 400 && !refused; i++) {
        const r = await request(port, 'POST', at(`transport=stream&id=${id}`), `data=${big}`);
        if (r.status === 500) refused = i;
      }
      assert.ok(refused > 0, 'the unread stream was ended');
      t.diagnostic(`unread stream ended after ${refused} events of 60 kB; RSS +${((srv.rss() - rssBefore) / MiB).toFixed(2)} MiB`);
      assert.ok(srv.rss() - rssBefore < 8 * MiB, 'its memory stayed bounded');
      socket.destroy();
    }

    const worst = await crowd.stop();
    t.diagnostic(`worst crowd echo ${worst} ms`);
    assert.ok(worst < 1000, `a crowd echo took ${worst} ms`);
    assert.deepEqual(await srv.stop(), { code: 0, signal: null });
  });

  test('1000 sockets opened and abandoned go; memory comes back', { timeout: 60000 }, async (t) => {
    const srv = await startServer(t, SERVER);
    const crowd = await startCrowd(t, srv.port);
    // A first poll that does not come within 3 s ends a long-poll socket.
    await abandonRounds(t, srv, { openOne: () => longpollOpen(srv.port), count: () => openCount(srv.port), crowd: 12, what: 'socket' });
    const worst = await crowd.stop();
    assert.ok(worst < 1000, `a crowd echo took ${worst} ms`);
    assert.deepEqual(await srv.stop(), { code: 0, signal: null });
  });
});
