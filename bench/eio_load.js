#!/usr/bin/env node
'use strict';
//
// Load generator for engine.io servers (weft `--transformer engine.io`, or
// Primus 8 on engine.io 6.6: bench/peers/primus_server.js --transformer
// engine.io), speaking the wire by hand so that the client costs little:
//
//   echo over polling:   N sessions, each keeping K messages in flight:
//                        posts of the messages to send, one poll always
//                        held; every echo polled sends a new message.
//   echo over websocket: N sessions, each a polling handshake, the probe
//                        and the upgrade, then K messages in flight on the
//                        WebSocket.
//   idle:                N polling sessions, each with one poll held (an
//                        idle engine.io client); prints when they are all
//                        held (and at each thousand, then waits --pause
//                        seconds while the memory is read), then waits for
//                        SIGTERM.
//
// Usage: node eio_load.js --url http://127.0.0.1:P/primus --mode polling|websocket|idle
//          [--conns 100] [--inflight 8] [--size 32] [--warmup 1] [--seconds 4]
//          [--server-pid PID] [--pause 2]
// Prints one JSON line: {"msgs_per_s":…, "server_cpu_s":…, "msgs_per_cpu_s":…}
// (echo modes), or "idle N" lines (idle mode: at each 1000, "idle N done"
// at the end).
//
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const WebSocket = require(path.join(__dirname, '../tests/interop/node_modules/ws'));

const o = { url: '', mode: 'polling', conns: 100, inflight: 8, size: 32, warmup: 1, seconds: 4, serverPid: 0, pause: 2 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const k = argv[i].replace(/^--/, '').replace(/-(\w)/g, (_, c) => c.toUpperCase());
  if (!(k in o) || argv[i + 1] === undefined) { process.stderr.write(`eio_load: bad option ${argv[i]}\n`); process.exit(2); }
  o[k] = typeof o[k] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
}
const u = new URL(o.url);
const base = `${u.pathname.replace(/\/?$/, '/')}?EIO=4&transport=polling`;
const msg = '4' + JSON.stringify({ p: 'x'.repeat(Math.max(0, o.size - 8)) });

let counting = false;
let count = 0;
let running = true;

function request(agent, method, target, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: target, method, agent,
      headers: body === undefined ? {} : { 'Content-Type': 'text/plain;charset=UTF-8' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`${method} ${res.statusCode} ${text}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function open() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  const text = await request(agent, 'GET', base);
  return { agent, sid: JSON.parse(text.slice(1)).sid, out: [], posting: false };
}

function flush(s) {
  if (s.posting || !s.out.length || !running) return;
  s.posting = true;
  const body = s.out.join('\x1e');
  s.out = [];
  request(s.agent, 'POST', `${base}&sid=${s.sid}`, body).then(() => { s.posting = false; flush(s); }, fail);
}

async function pollLoop(s) {
  while (running) {
    const text = await request(s.agent, 'GET', `${base}&sid=${s.sid}`);
    for (const p of text.split('\x1e')) {
      if (p[0] === '4') {
        if (counting) count++;
        s.out.push(msg);
      } else if (p === '2') {
        s.out.push('3');
      } else if (p === '1') {
        throw new Error('the server closed a session');
      }
    }
    flush(s);
  }
}

async function polling() {
  const sessions = [];
  for (let i = 0; i < o.conns; i++) sessions.push(await open());
  for (const s of sessions) {
    for (let k = 0; k < o.inflight; k++) s.out.push(msg);
    flush(s);
    pollLoop(s).catch(fail);
  }
}

async function upgraded(s) {
  const ws = new WebSocket(`ws://${u.host}${u.pathname.replace(/\/?$/, '/')}?EIO=4&transport=websocket&sid=${s.sid}`);
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  ws.send('2probe');
  await new Promise((resolve, reject) => ws.once('message', (d) => (String(d) === '3probe' ? resolve() : reject(new Error(`probe: ${d}`)))));
  ws.send('5');
  ws.on('message', (d) => {
    const p = String(d);
    if (p[0] === '4') {
      if (counting) count++;
      ws.send(msg);
    } else if (p === '2') {
      ws.send('3');
    }
  });
  ws.on('close', () => running && fail(new Error('a WebSocket closed')));
  for (let k = 0; k < o.inflight; k++) ws.send(msg);
}

async function websocket() {
  const sessions = [];
  for (let i = 0; i < o.conns; i++) sessions.push(await open());
  for (const s of sessions) await upgraded(s);
}

async function idle() {
  let held = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  for (let i = 0; i < o.conns; i++) {
    const text = await request(agent, 'GET', base);
    const sid = JSON.parse(text.slice(1)).sid;
    // The poll stays held (answered only by a heartbeat ping, then held again).
    const hold = () => request(new http.Agent({ keepAlive: false }), 'GET', `${base}&sid=${sid}`)
      .then((t) => (t.split('\x1e').includes('2') ? request(agent, 'POST', `${base}&sid=${sid}`, '3').then(hold) : hold()), fail);
    hold();
    if (++held % 1000 === 0 && held < o.conns) {
      await new Promise((r) => setTimeout(r, 300)); // the last polls reach the server
      process.stdout.write(`idle ${held}\n`);
      await new Promise((r) => setTimeout(r, o.pause * 1000)); // memory is read meanwhile
    }
  }
  await new Promise((r) => setTimeout(r, 500)); // the last polls reach the server
  process.stdout.write(`idle ${held} done\n`);
}

function cpu(pid) {
  if (!pid) return 0;
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, clock ticks of 10 ms
}

function fail(e) {
  if (!running) return;
  process.stderr.write(`eio_load: ${e.message}\n`);
  process.exit(1);
}

async function main() {
  if (o.mode === 'idle') {
    await idle();
    process.on('SIGTERM', () => process.exit(0));
    return;
  }
  await (o.mode === 'polling' ? polling() : websocket());
  await new Promise((r) => setTimeout(r, o.warmup * 1000));
  const c0 = cpu(o.serverPid);
  const t0 = process.hrtime.bigint();
  counting = true;
  await new Promise((r) => setTimeout(r, o.seconds * 1000));
  counting = false;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const c1 = cpu(o.serverPid);
  running = false;
  const res = { msgs_per_s: Math.round(count / secs), server_cpu_s: +(c1 - c0).toFixed(2) };
  if (o.serverPid && c1 > c0) res.msgs_per_cpu_s = Math.round(count / (c1 - c0));
  process.stdout.write(JSON.stringify(res) + '\n');
  process.exit(0);
}

main().catch(fail);
