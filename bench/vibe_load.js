#!/usr/bin/env node
'use strict';
//
// Load generator for Vibe servers (weft `--transformer vibe --mode echo`, or
// bench/peers/vibe_server.js): the reference Vibe client (vibe-protocol
// 3.0.0-Alpha9), N sockets over one transport, each keeping K "echo"
// events in flight; every echo sends a new one. The client is one Node
// process and costs more than either server: the server CPU figure
// (utime + stime over the measured seconds) is the fair comparison.
//
// Usage: node bench/vibe_load.js --url http://127.0.0.1:P/vibe --transport ws|httpstream|httplongpoll
//          [--conns 20] [--inflight 8] [--warmup 1] [--seconds 4] [--server-pid PID]
// Prints one JSON line: {"events_per_s":…, "server_cpu_s":…, "events_per_cpu_s":…, "load_cpu":…}
// (load_cpu: this process's CPU time over the window, fraction of one core).
// bench/vibe_load.c is the same load in C, the default of bench/vibe.sh.
//
const fs = require('node:fs');
const path = require('node:path');

require(path.join(__dirname, '..', 'tests', 'vibe', 'node20'));
const vibe = require(path.join(__dirname, '..', 'tests', 'vibe', 'node_modules', 'vibe-protocol'));

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const conns = Number(args.conns || 20), inflight = Number(args.inflight || 8);
const warmup = Number(args.warmup || 1), seconds = Number(args.seconds || 4);
const base = args.url;
const uri = { ws: base.replace(/^http/, 'ws'), httpstream: `${base}?transport=stream`,
  httplongpoll: `${base}?transport=longpoll` }[args.transport];

const cpu = () => {
  if (!args['server-pid']) return 0;
  const f = fs.readFileSync(`/proc/${args['server-pid']}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; /* utime + stime, clock ticks of 10 ms */
};

let count = 0;
const payload = 'x'.repeat(32);
async function main() {
  const sockets = [];
  for (let i = 0; i < conns; i++) {
    const s = vibe.open(uri).on('error', () => {});
    await new Promise((resolve) => s.once('open', resolve));
    s.on('echo', () => { count++; s.send('echo', payload); });
    sockets.push(s);
  }
  for (const s of sockets) for (let k = 0; k < inflight; k++) s.send('echo', payload);
  await new Promise((r) => setTimeout(r, warmup * 1000));
  const c0 = count, cpu0 = cpu(), t0 = Date.now(), own0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const n = count - c0, dt = (Date.now() - t0) / 1000, cpus = cpu() - cpu0, own = process.cpuUsage(own0);
  console.log(JSON.stringify({ events_per_s: Math.round(n / dt), server_cpu_s: Number(cpus.toFixed(2)),
    events_per_cpu_s: cpus ? Math.round(n / cpus) : null,
    load_cpu: Number(((own.user + own.system) / 1e6 / dt).toFixed(2)) }));
  process.exit(0);
}
main();
