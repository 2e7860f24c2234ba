'use strict';
// Logs and metrics (issue #17): exact counters after known traffic from
// server.metrics(), server.metricsText() and the metrics path over HTTP; the
// core's records as 'log' events of the server and the client; the core's
// level following the 'log' listeners; NODE_DEBUG=weft in a child process
// (ESM); a throwing 'log' listener in a child process (CommonJS); bad input.
// Real sockets on 127.0.0.1: the npm `ws` client and raw HTTP.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const WebSocket = require('ws');
const { weft, HOST, rawHttp, waitUntil, withTimeout, weftServer, runNode } = require('./helpers');
const log = require('../lib/log');
// The same known traffic as the CLI's and Lua's metrics tests.
const traffic = require('../../tests/support/traffic');

const { NO_KEY, get, series } = traffic;
const openWs = (url) => traffic.openWs(WebSocket, url);
const oversize = (url) => traffic.oversize(WebSocket, url);

function echoServer(t, options) {
  const server = weftServer(t, Object.assign({ pingInterval: false, maxLength: 100 }, options));
  server.on('connection', (spark) => spark.on('data', (d) => spark.write(d)));
  return server;
}

/** 3 connections × 5 messages, one refused handshake, one oversize message; until closed. */
async function knownTraffic(server) {
  assert.deepEqual(await traffic.knownTraffic(WebSocket, server.port), { refused: 400, oversize: 1009 });
  await waitUntil(() => server.metrics().connectionsOpen === 0, 5000, 'every spark closed');
}

test('metrics(), metricsText() and the metrics path hold the exact counters', async (t) => {
  const server = echoServer(t, { metricsPath: '/metrics' });
  assert.equal(server.metrics().connectionsTotal, 0);
  await knownTraffic(server);
  assert.deepEqual(server.metrics(), {
    connectionsOpen: 0,
    connectionsTotal: 4,
    handshakesTotal: 4, // the 400 is refused before authorization
    refusedTotal: 1,
    messagesInTotal: 15,
    messagesOutTotal: 15,
    bytesInTotal: 15 * 4, // '"hi"'; the oversize message is no message
    bytesOutTotal: 15 * 4,
    queueBytes: 0,
    queueRefusedTotal: 0,
    heartbeatTimeoutsTotal: 0,
    errorsTotal: 1,
    pollingRequestsTotal: 0 // no engine.io here
  });
  const text = server.metricsText();
  const expect = {
    'weft_connections{transport="websockets"}': 0,
    'weft_connections_total{transport="websockets"}': 4,
    weft_handshakes_total: 4,
    'weft_http_responses_total{code="400"}': 1,
    'weft_http_responses_total{code="200"}': 0,
    'weft_messages_received_total{transport="websockets"}': 15,
    'weft_messages_sent_total{transport="websockets"}': 15,
    'weft_received_bytes_total{transport="websockets"}': 60,
    'weft_sent_bytes_total{transport="websockets"}': 60,
    weft_queue_bytes: 0,
    weft_queue_refused_total: 0,
    weft_heartbeat_timeouts_total: 0,
    'weft_errors_total{kind="toobig"}': 1,
    'weft_errors_total{kind="json"}': 0
  };
  for (const [name, value] of Object.entries(expect)) assert.equal(series(text, name), value, name);
  // Scraped: the page is made before its own 200 is counted.
  const page = await get(server.port, '/metrics');
  assert.equal(page.status, 200);
  assert.equal(page.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  assert.equal(page.body, text);
  assert.equal(series((await get(server.port, '/metrics')).body, 'weft_http_responses_total{code="200"}'), 1);
  assert.equal(series(server.metricsText(), 'weft_http_responses_total{code="200"}'), 2);
  assert.equal((await get(server.port, '/metrics', 'POST')).status, 405);
  assert.equal(server.metrics().refusedTotal, 2);
});

test('no metrics path unless asked', async (t) => {
  const server = echoServer(t, {});
  assert.equal((await get(server.port, '/metrics')).status, 404);
  assert.equal(server.metrics().refusedTotal, 1);
});

test("the server's records are its 'log' events, in order", async (t) => {
  const server = echoServer(t, {});
  const records = [];
  server.on('log', (r) => records.push(r));
  const ids = [];
  server.on('connection', (spark) => ids.push(spark.id));
  const ws = await openWs(server.url);
  ws.close();
  await waitUntil(() => ids.length === 1 && server.connected === 0, 5000, 'closed');
  assert.match(await rawHttp(server.port, NO_KEY), /^HTTP\/1\.1 400 /);
  // Bytes from the network that are not UTF-8 arrive replaced.
  const bad = Buffer.concat([Buffer.from('GET /'), Buffer.from([0xff]), Buffer.from(' HTTP/1.1\r\nHost: a\r\n\r\n')]);
  assert.match(await rawHttp(server.port, bad), /^HTTP\/1\.1 404 /);
  assert.equal(await oversize(server.url), 1009);
  await waitUntil(() => records.filter((r) => r.event === 'disconnection').length === 2, 5000, 'records');
  for (const r of records) assert.deepEqual(Object.keys(r), ['level', 'event', 'message', 'spark', 'kind']);
  assert.deepEqual(records[0], { level: 'info', event: 'listen', message: `listening on ${server.url} (websockets)`, spark: null, kind: null });
  const of = (event) => records.filter((r) => r.event === event);
  assert.deepEqual(of('connection').map((r) => [r.level, r.spark, r.kind]), ids.map((id) => ['info', id, null]));
  assert.match(of('connection')[0].message, new RegExp(`^spark ${ids[0]} connected from 127\\.0\\.0\\.1:\\d+ \\(websockets\\)$`));
  assert.deepEqual(of('disconnection').map((r) => r.spark), ids);
  const refused = of('refused').map((r) => r.message);
  assert.equal(refused.length, 2);
  assert.match(refused[0], /^400 Bad Request to 127\.0\.0\.1:\d+ for GET \/primus$/);
  assert.match(refused[1], /^404 Not Found to 127\.0\.0\.1:\d+ for GET \/\ufffd$/);
  const [err] = of('error');
  assert.equal(of('error').length, 1);
  assert.deepEqual([err.level, err.kind, err.spark], ['warn', 'toobig', ids[1]]);
  const order = records.map((r) => r.event);
  assert.ok(order.indexOf('connection') < order.indexOf('disconnection'));
  assert.ok(order.indexOf('refused') < order.indexOf('error'));
});

test("a client's records are its 'log' events", async (t) => {
  const server = echoServer(t, {});
  const client = weft.connect(server.url, { strategy: false });
  const records = [];
  client.on('log', (r) => records.push(r));
  await withTimeout(new Promise((resolve) => client.once('open', resolve)), 5000, 'open');
  client.end();
  await waitUntil(() => records.some((r) => r.event === 'end'), 5000, 'end record');
  assert.deepEqual(records.map((r) => r.event), ['open', 'close', 'end']);
  assert.match(records[0].message, /^ws:\/\/127\.0\.0\.1:\d+: connection open$/);
});

const tick = () => new Promise((resolve) => process.nextTick(resolve));

test("the core's level follows the 'log' listeners and logLevel", async (t) => {
  const server = echoServer(t, {});
  await tick();
  assert.equal(log.coreLevelNow(), 0); // nobody listens: the core formats nothing
  const records = [];
  const fn = (r) => records.push(r);
  server.on('log', fn);
  assert.equal(log.coreLevelNow(), 3); // 'info', the default
  server.off('log', fn);
  assert.equal(log.coreLevelNow(), 0);
  server.removeAllListeners();
  server.on('log', fn); // still followed after removeAllListeners()
  assert.equal(log.coreLevelNow(), 3);
  const quiet = echoServer(t, { logLevel: 'warn' });
  const warnings = [];
  quiet.on('log', (r) => warnings.push(r));
  const debugging = echoServer(t, { logLevel: 'debug' });
  debugging.on('log', () => {});
  await tick();
  assert.equal(log.coreLevelNow(), 4); // the most verbose listener's
  debugging.destroy();
  await waitUntil(() => log.coreLevelNow() === 3, 5000, 'level after the close');
  // 'warn': the oversize message's error, not its connection.
  assert.equal(await oversize(quiet.url), 1009);
  await waitUntil(() => warnings.length > 0 && quiet.connected === 0, 5000, 'warning');
  await tick();
  assert.deepEqual(warnings.map((r) => [r.level, r.event, r.kind]), [['warn', 'error', 'toobig']]);
  assert.ok(!records.some((r) => r.event === 'error'), 'records stay with their server');
});

test('NODE_DEBUG=weft prints the records on stderr (ESM)', async () => {
  const r = await runNode([path.join(__dirname, 'fixtures', 'log_debug.mjs')], 20000, { NODE_DEBUG: 'weft' });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const lines = r.stderr.split('\n');
  const has = (re) => lines.filter((l) => re.test(l)).length;
  assert.equal(has(/^WEFT \d+: info listen: listening on ws:\/\/127\.0\.0\.1:\d+\/primus \(websockets\)$/), 1);
  assert.equal(has(/^WEFT \d+: info connection: spark \S+ connected from 127\.0\.0\.1:\d+ \(websockets\)$/), 1);
  assert.equal(has(/^WEFT \d+: info open: ws:\/\/127\.0\.0\.1:\d+: connection open$/), 1);
  assert.equal(has(/^WEFT \d+: info disconnection: spark \S+ disconnected$/), 1);
  assert.match(r.stdout, /^metrics 1 1 1$/m);
  // Without NODE_DEBUG, nothing on stderr.
  const quiet = await runNode([path.join(__dirname, 'fixtures', 'log_debug.mjs')], 20000, { NODE_DEBUG: '' });
  assert.equal(quiet.code, 0, quiet.stdout + quiet.stderr);
  assert.equal(quiet.stderr, '');
});

test("a throwing 'log' listener is an uncaught exception, and the records after it still come", async () => {
  const r = await runNode([path.join(__dirname, 'fixtures', 'log_throw.js')]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['uncaught log boom', 'echo ok', 'disconnection record', 'closed']);
});

test('bad input: logLevel, log listeners, metricsPath, metrics after close', async (t) => {
  const opts = { port: 0, host: HOST };
  for (const bad of ['loud', 'INFO', 3, null]) {
    assert.throws(() => new weft.Server({ ...opts, logLevel: bad }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => weft.connect('ws://127.0.0.1:1/primus', { manual: true, logLevel: bad }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
  }
  const server = weftServer(t, {});
  assert.throws(() => server.on('log', 42), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  for (const bad of ['metrics', '/a b', '/m?x', '/m#x', '/m\r\nX: y']) {
    assert.throws(() => new weft.Server({ ...opts, metricsPath: bad }), { code: 'EINVAL' });
  }
  assert.throws(() => new weft.Server({ ...opts, metricsPath: 5 }), TypeError);
  assert.throws(() => new weft.Server({ ...opts, metricPath: '/m', strict: true }), /did you mean "metricsPath"/);
  const closed = new weft.Server(opts);
  await new Promise((resolve) => closed.destroy(resolve));
  assert.throws(() => closed.metrics(), { code: 'ECLOSED' });
  assert.throws(() => closed.metricsText(), { code: 'ECLOSED' });
});
