'use strict';
// nmsg's remote callbacks (issue #22): an answer may carry a callback, the
// far side calls it back with an answer that may carry one again, to any
// depth (the core's weft_reply_resolve_cb / weft_ack.reply).
const test = require('node:test');
const assert = require('node:assert/strict');
const { withTimeout, weftPair } = require('./helpers');

const pair = (t, serverOptions = {}) => weftPair(t, Object.assign({ emitter: true }, serverOptions), { emitter: true });

test('callbacks at depths 1, 2 and 3, each called back across the connection', async (t) => {
  const { spark, client } = await pair(t);
  const calls = [];
  spark.on('ask', (q, ack) => {
    // depth 2 (server): the answer carries it.
    ack(null, `v1:${q}`, (err, v2, next) => {
      calls.push(['server depth 2', err, v2]);
      next(null, 'v3');
    });
  });
  const done = new Promise((resolve) => {
    // depth 1 (client): the emit's callback.
    client.send('ask', 'q', (err, v1, call2) => {
      calls.push(['client depth 1', err, v1]);
      assert.equal(typeof call2, 'function');
      // depth 3 (client): carried by the call back of depth 2.
      call2(null, 'v2', (err3, v3, more) => {
        calls.push(['client depth 3', err3, v3, more]);
        resolve();
      });
    });
  });
  await withTimeout(done, 5000, 'depth 3');
  assert.deepEqual(calls, [
    ['client depth 1', null, 'v1:q'],
    ['server depth 2', null, 'v2'],
    ['client depth 3', null, 'v3', undefined]
  ]);
});

test('a carried callback nobody calls is released: ETIMEDOUT at the timeout, ECLOSED at the close', async (t) => {
  const outcomes = [];
  const settled = (n) => withTimeout((async () => { while (outcomes.length < n) await new Promise((r) => setTimeout(r, 10)); })(), 5000, `${n} outcomes`);
  const kept = [];
  {
    const { spark, client } = await pair(t, { emitter: { timeout: 100 } });
    spark.on('ask', (q, ack) => ack(null, q, (err) => outcomes.push(err && err.code)));
    client.send('ask', 1, (err, v, cb) => kept.push(cb)); // kept, never called
    await settled(1);
    assert.deepEqual(outcomes, ['ETIMEDOUT']);
  }
  {
    const { spark, client } = await pair(t); // the default timeout (10 s): the close comes first
    spark.on('ask', (q, ack) => ack(null, q, (err) => outcomes.push(err && err.code)));
    await new Promise((resolve) => client.send('ask', 2, (err, v, cb) => { kept.push(cb); resolve(); }));
    client.end();
    await settled(2);
    assert.deepEqual(outcomes, ['ETIMEDOUT', 'ECLOSED']);
  }
  // Bad input: a carried callback answers once; a third argument that is not a function carries nothing.
  const { spark, client } = await pair(t);
  spark.on('ask', (q, ack) => ack(null, q, (err, v, next) => outcomes.push(['called', v, typeof next])));
  await new Promise((resolve) => client.send('ask', 3, (err, v, cb) => {
    assert.equal(cb(null, 'once', 'not a function'), true);
    assert.equal(cb(null, 'twice'), false);
    resolve();
  }));
  await settled(3);
  assert.deepEqual(outcomes[2], ['called', 'once', 'undefined']);
});
