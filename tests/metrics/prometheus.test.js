'use strict';
//
// `weft serve --metrics /metrics` as an operator runs it (issue #17): known
// traffic (3 connections, 5 messages each, one refused handshake, one
// oversize message), then the exact counters in the scraped text, that text
// through `promtool check metrics`, and a real Prometheus server scraping
// it. promtool and prometheus come from Debian's package, unpacked by
// scripts/deps.sh into build-tools/prometheus ($WEFT_PROMETHEUS). Every
// process is started here on 127.0.0.1 and stopped by its PID.
//
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { test } = require('node:test');

const WebSocket = require(path.join(__dirname, '..', 'interop', 'node_modules', 'ws'));
const traffic = require('../support/traffic');
const { within, delay, get, series } = traffic;

const CLI = process.env.WEFT_CLI;
const PROM = process.env.WEFT_PROMETHEUS;


function spawnStopped(t, cmd, args) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  return child;
}

async function startServer(t, args) {
  const child = spawnStopped(t, CLI, ['serve', '--host', '127.0.0.1', '--port', '0', ...args]);
  const errors = [];
  readline.createInterface({ input: child.stderr }).on('line', (l) => errors.push(l));
  const ready = await within(new Promise((resolve) => {
    readline.createInterface({ input: child.stdout }).on('line', (l) => {
      if (l.startsWith('listening on ')) resolve(l);
    });
  }), 5000, 'listening');
  const port = Number(/:(\d+)\//.exec(ready)[1]);
  return { child, port, errors };
}

/** The known traffic (tests/support/traffic.js), then the text once the server has seen every close. */
async function knownTraffic(port) {
  const sent = await traffic.knownTraffic(WebSocket, port);
  assert.deepEqual(sent, { refused: 400, oversize: 1009 });
  return (await traffic.scrapeUntilClosed(port)).page.body;
}

test('the scraped text holds the exact counters and passes promtool', async (t) => {
  const srv = await startServer(t, ['--metrics', '/metrics', '--max-length', '100', '--log-level', 'info']);
  const text = await knownTraffic(srv.port);
  const expect = {
    'weft_connections{transport="websockets"}': 0,
    'weft_connections_total{transport="websockets"}': 4,
    weft_handshakes_total: 4,
    'weft_http_responses_total{code="400"}': 1,
    'weft_messages_received_total{transport="websockets"}': 15,
    'weft_messages_sent_total{transport="websockets"}': 15,
    // The oversize message is refused by the framing: it is no message.
    'weft_received_bytes_total{transport="websockets"}': 15 * 4,
    'weft_sent_bytes_total{transport="websockets"}': 15 * 4,
    weft_queue_bytes: 0,
    weft_queue_refused_total: 0,
    weft_heartbeat_timeouts_total: 0,
    'weft_errors_total{kind="toobig"}': 1,
    'weft_errors_total{kind="json"}': 0,
  };
  for (const [name, value] of Object.entries(expect)) assert.equal(series(text, name), value, name);
  const page = await get(srv.port, '/metrics');
  assert.equal(page.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  assert.equal((await get(srv.port, '/metrics', 'POST')).status, 405);

  const check = spawnSync(path.join(PROM, 'promtool'), ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}`);

  // The log: one record per connection and disconnection, the refusal, the
  // oversize message's error, on stderr.
  await srv.child.kill('SIGTERM');
  await within(new Promise((r) => srv.child.once('exit', r)), 5000, 'exit');
  const count = (re) => srv.errors.filter((l) => re.test(l)).length;
  assert.equal(count(/^weft info listen: listening on ws:\/\/127\.0\.0\.1:\d+\/primus/), 1);
  assert.equal(count(/^weft info connection: spark \S+ connected from 127\.0\.0\.1:\d+ \(websockets\)$/), 4);
  assert.equal(count(/^weft info disconnection: spark \S+ disconnected$/), 4);
  assert.equal(count(/^weft info refused: 400 Bad Request to 127\.0\.0\.1:\d+ for GET \/primus$/), 1);
  assert.equal(count(/^weft warn error toobig: spark \S+: /), 1);
});

test('a real Prometheus server scrapes the metrics path', async (t) => {
  const srv = await startServer(t, ['--metrics', '/metrics']);
  const ws = await traffic.openWs(WebSocket, `ws://127.0.0.1:${srv.port}/primus`);
  await traffic.echoes(ws, '"scraped"', 3);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-prom-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), [
    'global:',
    '  scrape_interval: 1s',
    'scrape_configs:',
    '  - job_name: weft',
    '    metrics_path: /metrics',
    '    static_configs:',
    `      - targets: ['127.0.0.1:${srv.port}']`,
    '',
  ].join('\n'));
  // A free port for Prometheus's own API.
  const apiPort = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
  const prom = spawnStopped(t, path.join(PROM, 'prometheus'), [
    `--config.file=${path.join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${apiPort}`,
  ]);
  let log = '';
  prom.stderr.on('data', (d) => { log += d; });
  t.after(() => prom.kill('SIGTERM'));
  const query = async (q) => {
    const res = await get(apiPort, `/api/v1/query?query=${encodeURIComponent(q)}`);
    return res.status === 200 ? JSON.parse(res.body).data.result : null;
  };
  let up = null;
  let sent = null;
  for (let i = 0; i < 150 && !(up === 1 && sent === 3); i++) {
    await delay(200);
    try {
      const u = await query('up{job="weft"}');
      const s = await query('weft_messages_sent_total{transport="websockets"}');
      up = u && u.length ? Number(u[0].value[1]) : null;
      sent = s && s.length ? Number(s[0].value[1]) : null;
    } catch { /* not listening yet */ }
  }
  assert.equal(up, 1, `the target is not up; prometheus said:\n${log.slice(-2000)}`);
  assert.equal(sent, 3);
  ws.close();
});

test('bad --metrics and --log-level values are refused by name', () => {
  for (const args of [['--metrics', 'metrics'], ['--log-level', 'loud']]) {
    const r = spawnSync(CLI, ['serve', '--port', '0', ...args], { encoding: 'utf8', timeout: 5000 });
    assert.equal(r.status, 2);
    assert.match(r.stderr, new RegExp(args[0]));
  }
});
