'use strict';
// Vibe from Node (issue #21, decision #32): the client's `transport`
// option (ws, httpstream, httplongpoll) with acks both ways against a weft
// Vibe server whose heartbeat is the server's vibeHeartbeat options, and
// the option's bad input: an unknown name, and a URL whose transport=
// query names another transport.
const test = require('node:test');
const assert = require('node:assert/strict');
const { weft, HOST, once, weftServer } = require('./helpers');

async function vibeServer(t) {
  const server = weftServer(t, { transformer: 'vibe', emitter: true, vibeHeartbeat: 3000, vibeHeartbeatWait: 1000 });
  server.on('connection', (spark) => {
    spark.on('sum', ([a, b], ack) => ack(null, a + b)); // a Vibe event carries one datum
    spark.on('hello', () => spark.request('ask', [7]).then((v) => spark.send('asked', v), () => spark.send('asked', 'no')));
  });
  if (!server.listening) await once(server, 'listening');
  return `http://${HOST}:${server.port}/primus`;
}

for (const transport of ['ws', 'httpstream', 'httplongpoll']) {
  test(`weft client over Vibe's ${transport} by the transport option: acks both ways`, async (t) => {
    const url = await vibeServer(t);
    const client = weft.connect(url, { transformer: 'vibe', transport, emitter: true, reconnect: { retries: 0 } });
    client.on('error', () => {});
    t.after(() => client.destroy());
    client.on('ask', (n, ack) => ack(null, n * 2));
    await once(client, 'open');
    assert.equal(await client.request('sum', [[20, 22]]), 42);
    const asked = once(client, 'asked');
    client.send('hello');
    assert.equal(await asked, 14);
  });
}

test('the transport option: the URL\'s transport= query agrees, or the client is refused', async (t) => {
  const url = await vibeServer(t);
  const client = weft.connect(`${url}?transport=longpoll`, { transformer: 'vibe', transport: 'httplongpoll', emitter: true, reconnect: { retries: 0 } });
  client.on('error', () => {});
  t.after(() => client.destroy());
  await once(client, 'open');
  assert.equal(await client.request('sum', [[1, 2]]), 3);
  assert.throws(() => weft.connect(`${url}?transport=longpoll`, { transformer: 'vibe', transport: 'ws' }),
    (e) => e.code === 'EINVAL' && /option "transport" \("ws"\)/.test(e.message) && /the URL's transport= query/.test(e.message));
  assert.throws(() => weft.connect(url, { transformer: 'vibe', transport: 'carrier' }),
    (e) => e instanceof RangeError && e.code === 'ERANGE' && /"httplongpoll"/.test(e.message));
  // The object form is still Primus's place for headers.
  const other = weft.connect(url, { transformer: 'vibe', transport: { headers: { 'x-a': '1' } }, manual: true });
  other.destroy();
});

test('vibeHeartbeat: a wait not below the heartbeat is refused', () => {
  assert.throws(() => new weft.Server({ port: 0, host: HOST, transformer: 'vibe', vibeHeartbeat: 1000, vibeHeartbeatWait: 1000 }),
    (e) => e.code === 'EINVAL' && /vibeHeartbeatWait/.test(e.message));
});
