'use strict';
//
// The churn soak's load (bench/soak.sh drives it): first CYCLES
// connect/upgrade/close cycles, CONCURRENCY at a time; then MINUTES of
// mixed traffic — POPULATION clients that stay and echo a message every
// 50 ms each, while short-lived clients keep arriving (20 a second), send a
// few messages and leave. Prints one JSON line per phase on stdout and
// progress on stderr; the server's memory and descriptors are sampled by
// soak.sh from /proc.
//
//   node bench/soak.js --port P [--cycles 100000] [--concurrency 50]
//                      [--minutes 10] [--population 200]
//
const path = require('node:path');
const WebSocket = require(path.join(__dirname, '..', 'tests', 'interop', 'node_modules', 'ws'));

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const PORT = arg('port', 0);
const CYCLES = arg('cycles', 100000);
const CONCURRENCY = arg('concurrency', 50);
const MINUTES = arg('minutes', 10);
const POPULATION = arg('population', 200);
const URL = `ws://127.0.0.1:${PORT}/primus`;

function cycle() {
  return new Promise((resolve) => {
    const ws = new WebSocket(URL);
    let ok = false;
    ws.on('open', () => { ok = true; ws.close(); });
    ws.on('error', () => {});
    ws.on('close', () => resolve(ok));
  });
}

async function churn() {
  let done = 0, failed = 0;
  const t0 = Date.now();
  const worker = async () => {
    while (done + failed < CYCLES) {
      if (await cycle()) done++; else failed++;
      if ((done + failed) % 10000 === 0) process.stderr.write(`churn ${done + failed}/${CYCLES}\n`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const s = (Date.now() - t0) / 1000;
  console.log(JSON.stringify({ phase: 'churn', cycles: done, failed, seconds: s, per_s: Math.round(done / s) }));
}

function resident(stats) {
  const ws = new WebSocket(URL);
  let n = 0, timer = null;
  const pending = new Map();
  ws.on('open', () => {
    timer = setInterval(() => {
      pending.set(n, Date.now());
      ws.send(JSON.stringify({ n: n++, pad: 'soak' }));
    }, 50);
  });
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString());
    if (typeof m === 'string' && m.startsWith('primus::ping::')) {
      ws.send(JSON.stringify(`primus::pong::${m.slice(14)}`));
      return;
    }
    const at = pending.get(m.n);
    if (at !== undefined) {
      pending.delete(m.n);
      stats.echoes++;
      stats.worst = Math.max(stats.worst, Date.now() - at);
    }
  });
  ws.on('error', () => { stats.errors++; });
  ws.on('close', () => { stats.closed++; });
  return () => { clearInterval(timer); ws.terminate(); };
}

function visitor(stats) {
  const ws = new WebSocket(URL);
  ws.on('open', () => {
    for (let i = 0; i < 3; i++) ws.send(JSON.stringify({ visit: i }));
    setTimeout(() => ws.close(), 200);
  });
  ws.on('error', () => { stats.errors++; });
  ws.on('close', () => { stats.visits++; });
}

async function mixed() {
  const stats = { echoes: 0, worst: 0, errors: 0, closed: 0, visits: 0 };
  const stops = Array.from({ length: POPULATION }, () => resident(stats));
  const visits = setInterval(() => visitor(stats), 50);
  const t0 = Date.now();
  const progress = setInterval(() => process.stderr.write(
    `mixed ${Math.round((Date.now() - t0) / 1000)} s: ${stats.echoes} echoes, ${stats.visits} visits\n`), 30000);
  await new Promise((r) => setTimeout(r, MINUTES * 60000));
  clearInterval(visits);
  clearInterval(progress);
  stops.forEach((stop) => stop());
  console.log(JSON.stringify({ phase: 'mixed', minutes: MINUTES, population: POPULATION, ...stats }));
}

(async () => {
  await churn();
  await mixed();
  setTimeout(() => process.exit(0), 500);
})();
