'use strict';
// A client that pings (seed 000: Primus before 7; Vibe's heartbeat): the
// npm Primus 6 client with ping: 1000 sends primus::ping::<ts> and a weft
// server answers primus::pong::<ts> (the core, for every host). The
// connection holds for 10 s; a server that stops answering (a child weft
// server, SIGSTOPped) is found dead within ping + pong.
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const Primus6 = require('primus6');
const { HOST, once, delay, weftServer } = require('./helpers');

const Socket = Primus6.createSocket({ transformer: 'websockets', parser: 'json' });
const PING = 1000;
const PONG = 1000;

test('the Primus 6 client pinging every second keeps a weft connection for 10 s', async (t) => {
  const server = weftServer(t, { pingInterval: false });
  const events = [];
  server.on('connection', () => events.push('connection'));
  server.on('disconnection', () => events.push('disconnection'));
  const client = new Socket(`http://${HOST}:${server.port}/primus`, { ping: PING, pong: PONG, strategy: false });
  t.after(() => client.end());
  let pongs = 0;
  client.on('incoming::pong', () => { pongs++; });
  for (const e of ['offline', 'end', 'close', 'timeout', 'reconnect']) client.on(e, () => events.push(`client ${e}`));
  await once(client, 'open');
  await delay(10000);
  assert.ok(pongs >= 8, `a pong for (nearly) every ping, got ${pongs}`);
  assert.deepEqual(events, ['connection'], 'one connection, never lost');
});

test('a server that stops answering is found dead within ping + pong', async (t) => {
  const code = `const weft = require(${JSON.stringify(require.resolve('..'))});
    const s = new weft.Server({ port: 0, host: '127.0.0.1', pingInterval: false });
    process.stdout.write(String(s.port) + '\\n');`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => { try { process.kill(child.pid, 'SIGCONT'); process.kill(child.pid, 'SIGKILL'); } catch (e) { /* gone */ } });
  const port = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
  const client = new Socket(`http://${HOST}:${port}/primus`, { ping: PING, pong: PONG, strategy: false });
  t.after(() => client.end());
  client.on('error', () => {});
  await once(client, 'open');
  await once(client, 'incoming::pong', 5000); // answered while it runs
  process.kill(child.pid, 'SIGSTOP');
  const t0 = Date.now();
  await once(client, 'offline', PING + PONG + 5000);
  const elapsed = Date.now() - t0;
  // The next ping leaves within PING, its pong is missed PONG later; the
  // rest is slack for a loaded machine.
  assert.ok(elapsed <= PING + PONG + 3000, `found dead after ${elapsed} ms`);
  assert.ok(elapsed >= PONG - 50, `not before the pong was due (${elapsed} ms)`);
});

test('bad input: a ping with a long payload is answered with its first 64 bytes', async (t) => {
  const server = weftServer(t, { pingInterval: false });
  const long = 'x'.repeat(200);
  // A raw WebSocket, to see the answer itself.
  const WebSocket = require('ws');
  const ws = new WebSocket(`ws://${HOST}:${server.port}/primus`);
  t.after(() => ws.terminate());
  await once(ws, 'open');
  ws.send(JSON.stringify(`primus::ping::${long}`));
  const msg = await once(ws, 'message');
  assert.equal(JSON.parse(String(msg)), `primus::pong::${'x'.repeat(64)}`);
});
