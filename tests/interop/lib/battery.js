'use strict';
//
// The interop battery with the official Primus client (from npm) against
// the selected test server (weft's binary, or the Primus reference), for a
// transformer and, for engine.io, a client mode: the default (polling, then
// the upgrade), 'polling' (Primus's `websockets: false`) or 'websocket'
// (engine.io-client forced to WebSocket only). See README.md.
//
const assert = require('node:assert/strict');
const { describe, test } = require('node:test');
const h = require('./harness');
const { buildMessages, encodedSize } = require('./messages');
const { RawWebSocket } = require('./raw_ws');

function battery({ transformer = 'websockets', mode = null, parsers = ['json', 'msgpack'] } = {}) {
  const so = (o) => ({ ...o, transformer });
  const co = (o) => ({ ...o, transformer, mode });

  for (const parser of parsers) {
    describe(`${transformer}${mode ? ` (${mode})` : ''}, ${parser} parser (${h.SERVER_NAME})`, () => {
      test('exact echo of >= 1000 varied messages, order preserved', { timeout: 60000 }, async (t) => {
        const srv = await h.startServer(t, so({ parser }));
        const client = await h.connectClient(t, srv.url, co({ parser }));
        const messages = buildMessages(parser);
        assert.ok(messages.length >= 1000, `only ${messages.length} messages`);
        // The sized strings really have the encoded sizes they claim.
        for (const m of messages) {
          if (m.size !== undefined) assert.equal(encodedSize(parser, m.value), m.size, m.label);
        }
        const before = srv.mark();
        const received = h.collect(client, messages.length, { timeout: 45000 });
        for (const m of messages) client.write(m.value);
        const got = await received;
        for (let i = 0; i < messages.length; i++) {
          assert.deepStrictEqual(got[i], messages[i].value, `message ${i}: ${messages[i].label}`);
        }
        assert.deepStrictEqual(srv.linesMatching(/^error /, before), [], 'server reported errors');
      });

      test('heartbeat: pings every --ping-interval, answered, connection kept', { timeout: 15000 }, async (t) => {
        const srv = await h.startServer(t, so({ parser, pingInterval: 1000 }));
        const client = await h.connectClient(t, srv.url, co({ parser }));
        const pings = [];
        const pongs = [];
        const bad = [];
        // Primus client: a "primus::ping::<ms>" message emits 'incoming::ping'
        // (with the timestamp as a number); it answers with "primus::pong::<ms>"
        // and emits 'outgoing::pong'.
        client.on('incoming::ping', (time) => pings.push({ time, at: Date.now() }));
        client.on('outgoing::pong', (time) => pongs.push(time));
        for (const ev of ['close', 'end', 'reconnect scheduled', 'reconnect', 'offline']) {
          client.on(ev, () => bad.push(ev));
        }
        const dataSeen = [];
        client.on('data', (d) => dataSeen.push(d));
        const start = Date.now();
        await h.delay(3600);
        // Allow a little more time for the third ping if the server's timer
        // phase was unlucky, but the connection must have lasted >= 3.5 s.
        const deadline = start + 5000;
        while (pings.length < 3 && Date.now() < deadline) await h.delay(50);
        assert.ok(Date.now() - start >= 3500);
        assert.ok(pings.length >= 3, `saw ${pings.length} pings in ${Date.now() - start} ms`);
        for (const p of pings) {
          assert.equal(typeof p.time, 'number');
          assert.ok(Number.isInteger(p.time) && Math.abs(p.time - p.at) < 5000,
            `ping value ${p.time} is not a current epoch-ms timestamp`);
        }
        assert.deepStrictEqual(pongs, pings.map((p) => p.time), 'client answered every ping');
        assert.deepStrictEqual(bad, [], 'connection was dropped');
        assert.deepStrictEqual(dataSeen, [], 'pings must not surface as data');
        assert.equal(client.readyState, client.constructor.OPEN);
        await h.echoRound([client]);
        assert.deepStrictEqual(srv.linesMatching(/^disconnection /), []);
      });

      test('id: client.id() matches the server spark id', { timeout: 10000 }, async (t) => {
        const srv = await h.startServer(t, so({ parser }));
        const client = await h.connectClient(t, srv.url, co({ parser }));
        const { line } = await srv.waitForLine(/^connection \S+$/);
        const viaProtocol = await h.withTimeout(new Promise((resolve) => client.id(resolve)), 5000, 'client.id()');
        assert.equal(typeof viaProtocol, 'string');
        assert.ok(viaProtocol.length > 0);
        const reply = await h.command(client, 'id', 'id');
        assert.deepStrictEqual(reply, { id: viaProtocol });
        assert.equal(line, `connection ${viaProtocol}`);
      });

      test('server ends the spark: client ends and does not reconnect', { timeout: 10000 }, async (t) => {
        const srv = await h.startServer(t, so({ parser }));
        const client = await h.connectClient(t, srv.url, co({
          parser, options: { reconnect: { min: 100, max: 300, retries: 5 } }
        }));
        const { id } = await h.command(client, 'id', 'id');
        const events = [];
        for (const ev of ['close', 'end', 'reconnect', 'reconnect scheduled', 'reconnected', 'open']) {
          client.on(ev, () => events.push(ev));
        }
        const ended = h.waitEvent(client, 'end', 3000);
        client.write({ __weft_test: 'end' });
        await ended;
        await srv.waitForLine(new RegExp(`^disconnection ${escapeRe(id)}$`), { timeout: 3000 });
        await h.delay(1500);
        assert.ok(!events.includes('reconnect') && !events.includes('reconnect scheduled') &&
          !events.includes('reconnected') && !events.includes('open'),
          `client tried to reconnect: ${events}`);
        assert.equal(events.filter((e) => e === 'end').length, 1);
        assert.equal(srv.linesMatching(/^connection /).length, 1, 'no second connection');
      });

      test('server ends the spark with reconnect: client reconnects', { timeout: 10000 }, async (t) => {
        const srv = await h.startServer(t, so({ parser }));
        const client = await h.connectClient(t, srv.url, co({
          parser, options: { reconnect: { min: 100, max: 300, retries: 5 } }
        }));
        const { id } = await h.command(client, 'id', 'id');
        const events = [];
        for (const ev of ['end', 'reconnect scheduled', 'reconnected']) client.on(ev, () => events.push(ev));
        const reconnected = h.waitEvent(client, 'reconnected', 5000);
        client.write({ __weft_test: 'end-reconnect' });
        await reconnected;
        assert.ok(!events.includes('end'), `client ended: ${events}`);
        assert.ok(events.includes('reconnect scheduled'));
        await srv.waitForLine(new RegExp(`^disconnection ${escapeRe(id)}$`), { timeout: 3000 });
        const { id: id2 } = await h.command(client, 'id', 'id');
        assert.notEqual(id2, id, 'a new spark after reconnecting');
        await h.echoRound([client]);
      });

      test('server killed and restarted on the same port: client reconnects', { timeout: 30000 }, async (t) => {
        const first = await h.startServer(t, so({ parser }));
        const port = first.port;
        const client = await h.connectClient(t, first.url, co({
          parser, options: { reconnect: { min: 100, max: 500, retries: 20 } }
        }));
        await h.echoRound([client], { tag: 'before-kill' });
        let opens = 0;
        client.on('open', () => opens++);
        const scheduled = h.waitEvent(client, 'reconnect scheduled', 5000);
        const reconnected = h.waitEvent(client, 'reconnected', 20000);
        const ended = h.waitEvent(client, 'end', 20000).then(() => 'end', () => null);
        const exit = await first.kill();
        assert.equal(exit.signal, 'SIGKILL');
        await scheduled;
        const second = await h.startServerOnPort(t, port, so({ parser }));
        assert.equal(second.port, port);
        const winner = await Promise.race([reconnected.then(() => 'reconnected'), ended]);
        assert.equal(winner, 'reconnected');
        assert.equal(opens, 1, "'open' is emitted again on reconnect");
        await second.waitForLine(/^connection \S+$/);
        await h.echoRound([client], { tag: 'after-restart' });
      });

      test('broadcast reaches every client; count counts them', { timeout: 15000 }, async (t) => {
        const srv = await h.startServer(t, so({ parser }));
        const clients = [];
        for (let i = 0; i < 5; i++) clients.push(await h.connectClient(t, srv.url, co({ parser })));
        // Every connection is announced before we count.
        await h.withTimeout((async () => {
          while (srv.linesMatching(/^connection /).length < 5) await h.delay(20);
        })(), 3000, '5 connection lines');
        assert.deepStrictEqual(await h.command(clients[2], 'count', 'count'), { count: 5 });
        const isN = (d) => d !== null && typeof d === 'object' && !Array.isArray(d) && 'n' in d;
        const all = clients.map((c) => h.collect(c, 1, { timeout: 5000, filter: isN }));
        clients[0].write({ __weft_test: 'broadcast', data: { n: 1 } });
        const got = await Promise.all(all);
        for (const g of got) assert.deepStrictEqual(g, [{ n: 1 }]);
        // Broadcast of a non-object value too.
        const all2 = clients.map((c) => h.nextMessage(c, { timeout: 5000 }));
        clients[4].write({ __weft_test: 'broadcast', data: ['x', 2, '😀'] });
        for (const g of await Promise.all(all2)) assert.deepStrictEqual(g, ['x', 2, '😀']);
        await h.echoRound(clients);
      });

      test('spec endpoint and plain HTTP under the path', { timeout: 10000 }, async (t) => {
        const srv = await h.startServer(t, so({ parser, pingInterval: 25000 }));
        const base = `http://${h.HOST}:${srv.port}`;
        const spec = await h.httpRequest(`${base}/primus/spec`);
        assert.equal(spec.status, 200);
        assert.match(spec.headers['content-type'], /^application\/json/);
        const body = JSON.parse(spec.body);
        assert.equal(body.pingInterval, 25000);
        assert.equal(body.pathname, '/primus');
        assert.equal(body.parser, parser);
        assert.equal(body.transformer, transformer);
        assert.equal(typeof body.version, 'string');
        // Plain HTTP under the path: websockets wants an upgrade (426);
        // engine.io answers a request without its query "Transport unknown".
        for (const p of ['/primus', '/primus/anything?x=1']) {
          const plain = await h.httpRequest(`${base}${p}`);
          if (transformer === 'websockets') {
            assert.equal(plain.status, 426);
          } else {
            assert.equal(plain.status, 400);
            assert.deepStrictEqual(JSON.parse(plain.body), { code: 0, message: 'Transport unknown' });
          }
        }
      });
    });
  }

  describe(`authorization, ${transformer}${mode ? ` (${mode})` : ''} (json, ${h.SERVER_NAME})`, () => {
    test('right token connects, wrong token is refused with 401', { timeout: 20000 }, async (t) => {
      const srv = await h.startServer(t, so({ parser: 'json', auth: 'secret' }));

      // Right token: connects and echoes.
      const good = await h.connectClient(t, `${srv.url}?token=secret`, co({}));
      await h.echoRound([good]);
      if (transformer === 'websockets') await rawWebSocketRefusals(srv);
      else await rawPollingRefusals(srv);

      const mark = srv.mark();

      // The Primus client as a Primus server with authorize() serves it
      // (reconnect strategy without 'timeout'): 'error' whose message carries
      // the 401 (ws: "Unexpected server response: 401"; no statusCode
      // property), then 'end', and no reconnect.
      const bad = h.createClient(t, `${srv.url}?token=wrong`, co({
        authorization: true, options: { reconnect: { min: 100, max: 200, retries: 3 } }
      }));
      const events = [];
      const errors = [];
      for (const ev of ['open', 'end', 'reconnect scheduled', 'reconnect']) bad.on(ev, () => events.push(ev));
      bad.on('error', (err) => { events.push('error'); errors.push(err); });
      await h.waitUntil(() => events.includes('end'), 5000, `refused client ends (events ${events})`);
      await h.delay(700);
      assert.deepStrictEqual(events, ['error', 'end'], 'refused client must error, then end without reconnecting');
      assert.ok(errors[0] instanceof Error);
      assert.match(errorText(errors[0]), /\b401\b/);

      // The plain createSocket() client (default strategy includes 'timeout')
      // also gets the 401 error and never opens; it retries until its retries
      // run out, then ends.
      const plainClient = h.createClient(t, `${srv.url}?token=wrong`, co({
        options: { reconnect: { min: 50, max: 100, retries: 2 } }
      }));
      const events2 = [];
      const errors2 = [];
      for (const ev of ['open', 'end', 'reconnect scheduled', 'reconnect failed']) plainClient.on(ev, () => events2.push(ev));
      plainClient.on('error', (err) => { events2.push('error'); errors2.push(err); });
      await h.waitUntil(() => events2.includes('end'), 5000, `plain refused client ends (events ${events2})`);
      assert.ok(!events2.includes('open'));
      assert.equal(events2[0], 'error');
      assert.match(errorText(errors2[0]), /\b401\b/);

      // The good client is still fine; no refused client ever got a spark.
      await h.echoRound([good], { tag: 'after' });
      assert.deepStrictEqual(srv.linesMatching(/^connection /, mark), []);
    });
  });
}

async function rawWebSocketRefusals(srv) {
  // Raw handshake with the wrong token: 401 + JSON body.
  const raw = await h.httpRequest(`http://${h.HOST}:${srv.port}/primus?token=wrong`, {
    headers: h.upgradeHeaders()
  });
  assert.equal(raw.status, 401);
  assert.ok(!raw.upgraded);
  assert.match(raw.headers['content-type'], /^application\/json/);
  assert.deepStrictEqual(JSON.parse(raw.body), { error: 'bad token' });
  // No token at all: same.
  const none = await h.httpRequest(`http://${h.HOST}:${srv.port}/primus`, { headers: h.upgradeHeaders() });
  assert.equal(none.status, 401);
  // Right token over a raw handshake: 101.
  const ok = await h.httpRequest(`http://${h.HOST}:${srv.port}/primus?token=secret`, { headers: h.upgradeHeaders() });
  assert.equal(ok.status, 101);
  // Raw WebSocket client sees the same refusal.
  await assert.rejects(RawWebSocket.connect(`ws://${h.HOST}:${srv.port}/primus?token=nope`),
    (err) => err.statusCode === 401);
}

// engine.io: the handshake is a polling GET; a refusal is Primus's 401 JSON.
async function rawPollingRefusals(srv) {
  const base = `http://${h.HOST}:${srv.port}/primus/?EIO=4&transport=polling`;
  for (const q of ['&token=wrong', '']) {
    const bad = await h.httpRequest(`${base}${q}`);
    assert.equal(bad.status, 401);
    assert.match(bad.headers['content-type'], /^application\/json/);
    assert.deepStrictEqual(JSON.parse(bad.body), { error: 'bad token' });
  }
  const ok = await h.httpRequest(`${base}&token=secret`);
  assert.equal(ok.status, 200);
  const sid = /^0\{"sid":"([^"]+)","upgrades":\["websocket"\]/.exec(ok.body);
  assert.ok(sid, ok.body);
  // That session is a spark (the sid its id), announced before the next step.
  await srv.waitForLine(new RegExp(`^connection ${escapeRe(sid[1])}$`), { timeout: 3000 });
}

// What a refused client's error says: ws puts the status in the message
// ("Unexpected server response: 401"); engine.io-client's TransportError
// in its description (401, or the ws error whose message has it).
function errorText(err) {
  const d = err.description;
  return [err.message, d && d.message, typeof d === 'object' ? '' : d].join(' ');
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

module.exports = { battery };
