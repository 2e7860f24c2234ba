'use strict';
//
// A mixed cluster on one real redis-server (issue #19): four weft nodes, the
// C server (the CLI: `weft serve --redis URL --room lobby --mode
// broadcast`), a Python, a Node and a Lua server (python/tests,
// node/test/fixtures, lua/tests: cluster_node.*), each with 50 clients, half
// npm Primus clients and half weft Node clients. The scripted nodes take
// commands from a control client (?ctl=1); the CLI broadcasts what a client
// sends it. Clients ?i=N with an even N join "lobby" on the scripted nodes;
// every CLI client joins it (--room).
//
//   1. a broadcast from each node reaches all 200 clients once; a room write
//      with except across nodes reaches its members minus the excepted once;
//      direct writes by spark id reach sparks on other nodes; presence of
//      "lobby" is the same list from the three scripted nodes.
//   2. redis-server killed: every scripted node reports error::disconnect,
//      local delivery goes on; started again: the nodes reconnect,
//      re-register (presence complete) and cross-node delivery resumes.
//   3. the Lua node killed with SIGKILL leaves presence within its ttl.
//   4. recovery to another node (two more nodes with recovery on): see the
//      last test.
//
// redis-server runs on a free port in a temporary folder without
// persistence, and is stopped by its PID. Needs the hosts built (as
// cross.test.js) and Debian's redis-server.
//
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const ROOT = path.resolve(__dirname, '..', '..');
const BUILD = path.resolve(ROOT, process.env.WEFT_BUILD || 'build');
const weft = require(path.join(ROOT, 'node'));
const Primus = require(path.join(ROOT, 'tests', 'interop', 'node_modules', 'primus'));
const Socket = Primus.createSocket({ transformer: 'websockets' });

const PER_NODE = 50;
const TTL = 3000;
const children = new Set();
let redis = null;
let redisPort = 0;
let dir = null;
const nodes = {}; // name -> { child, url, ctl, replies[], errors[] }
const clients = []; // { i, node, socket, id, got: Map }

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, fn, ms = 15000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await sleep(50);
  }
  throw new Error(`timed out: ${what}`);
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function portOpen(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.on('connect', () => { c.destroy(); resolve(true); });
    c.on('error', () => resolve(false));
  });
}

async function startRedis() {
  redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  children.add(redis);
  redis.on('exit', () => children.delete(redis));
  await until('redis-server listening', () => portOpen(redisPort), 10000);
}

function stopChild(child, sig = 'SIGTERM') {
  return new Promise((resolve) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(sig);
  });
}

/** Spawns a node and resolves with its URL once it prints its port. */
function startNode(name, file, args, env, pattern) {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => reject(new Error(`${name}: not listening after 15 s\n${stderr}`)), 15000);
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const m = pattern.exec(line);
      if (!m) return;
      clearTimeout(timer);
      nodes[name] = { child, url: `ws://127.0.0.1:${m[1]}/primus`, replies: [], errors: [], stderr: () => stderr };
      resolve(nodes[name]);
    });
    child.on('exit', (code) => {
      children.delete(child);
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before listening\n${stderr}`));
    });
  });
}

function connectControl(node) {
  return new Promise((resolve) => {
    node.ctl = new Socket(`${node.url}?ctl=1`);
    node.ctl.on('data', (m) => {
      if (m && typeof m === 'object' && m.done) node.replies.push(m);
      else if (m && typeof m === 'object' && m.error) node.errors.push(m.error);
    });
    node.ctl.once('open', () => resolve());
  });
}

async function command(node, cmd) {
  const before = node.replies.length;
  node.ctl.write(cmd);
  await until(`${cmd.cmd} answered by ${Object.keys(nodes).find((k) => nodes[k] === node)}: ${node.stderr()}`, () => node.replies.length > before, 10000);
  return node.replies[before];
}

function addClient(i, name) {
  const url = `${nodes[name].url}?i=${i}`;
  const c = { i, node: name, id: null, got: new Map() };
  c.socket = i % 2 ? new Socket(url) : new weft.Client(url);
  c.socket.on('data', (m) => {
    if (typeof m === 'string') c.got.set(m, (c.got.get(m) || 0) + 1);
  });
  clients.push(c);
  return new Promise((resolve) => c.socket.once('open', () => c.socket.id((id) => { c.id = id; resolve(); })));
}

const inLobby = (c) => c.node === 'c' || c.i % 2 === 0;
let cliControlId = null; // the CLI's control client is in lobby too (--room)
const expectedLobby = () => [...clients.filter(inLobby).map((c) => c.id), cliControlId].sort();
const got = (c, tag) => c.got.get(tag) || 0;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-cluster-'));
  redisPort = await freePort();
  await startRedis();
  const url = `redis://127.0.0.1:${redisPort}`;
  const py = path.join(ROOT, 'build-python', 'venv', 'bin', 'python');
  await Promise.all([
    startNode('c', path.join(BUILD, 'weft'), ['serve', '--port', '0', '--mode', 'broadcast', '--redis', url,
      '--room', 'lobby', '--redis-ttl', String(TTL), '--ping-interval', '0'], {}, /^listening on ws:\/\/[^:]+:(\d+)\//),
    startNode('python', py, [path.join(ROOT, 'python', 'tests', 'cluster_node.py'), url, String(TTL)], {}, /^listening (\d+)/),
    startNode('node', process.execPath, [path.join(ROOT, 'node', 'test', 'fixtures', 'cluster_node.js'), url, String(TTL)], {},
      /^listening (\d+)/),
    startNode('lua', 'lua5.4', [path.join(ROOT, 'lua', 'tests', 'cluster_node.lua'), url, String(TTL)],
      { LUA_CPATH: path.join(BUILD, 'lua', '5.4', '?.so') }, /^listening (\d+)/),
  ]);
  await Promise.all(['python', 'node', 'lua'].map((n) => connectControl(nodes[n])));
  nodes.c.ctl = new weft.Client(nodes.c.url); // what it sends, the CLI broadcasts
  await new Promise((resolve) => nodes.c.ctl.once('open', () => nodes.c.ctl.id((id) => { cliControlId = id; resolve(); })));
  const opens = [];
  ['c', 'python', 'node', 'lua'].forEach((name, k) => {
    for (let j = 0; j < PER_NODE; j++) opens.push(addClient(k * PER_NODE + j, name));
  });
  await Promise.all(opens);
});

after(async () => {
  for (const c of clients) c.socket.end();
  for (const n of Object.values(nodes)) if (n.ctl) n.ctl.end();
  await Promise.all([...children].map((c) => stopChild(c)));
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function presenceEverywhere(names, want) {
  let last = null;
  await until(`presence of lobby = ${want.length} ids from ${names}`, async () => {
    const answers = await Promise.all(names.map((n) => command(nodes[n], { cmd: 'presence', room: 'lobby' })));
    last = answers;
    return answers.every((a) => a.ids && JSON.stringify(a.ids) === JSON.stringify(want));
  }, 20000).catch((e) => {
    throw new Error(`${e.message}: ${JSON.stringify(last && last.map((a) => a.ids ? a.ids.length : a))}`);
  });
}

test('four nodes, 200 clients: broadcasts, rooms with except, ids, presence', async () => {
  assert.strictEqual(clients.length, 4 * PER_NODE);
  await presenceEverywhere(['python', 'node', 'lua'], expectedLobby());

  for (const n of ['python', 'node', 'lua']) await command(nodes[n], { cmd: 'broadcast', tag: `b-${n}` });
  nodes.c.ctl.write('b-c');
  const tags = ['b-c', 'b-python', 'b-node', 'b-lua'];
  await until('every broadcast everywhere', () => clients.every((c) => tags.every((t) => got(c, t) >= 1)));

  const cliOne = clients.find((c) => c.node === 'c');
  const nodeOne = clients.find((c) => c.node === 'node' && c.i % 2 === 0);
  await command(nodes.python, { cmd: 'room', room: 'lobby', except: [cliOne.id, nodeOne.id], tag: 'r' });
  const target1 = clients.find((c) => c.node === 'node' && c.i % 2 === 1);
  const target2 = clients.find((c) => c.node === 'c' && c !== cliOne);
  await command(nodes.lua, { cmd: 'direct', id: target1.id, tag: 'd1' });
  await command(nodes.node, { cmd: 'direct', id: target2.id, tag: 'd2' });
  const roomWant = clients.filter((c) => inLobby(c) && c !== cliOne && c !== nodeOne);
  await until('room and direct writes', () => roomWant.every((c) => got(c, 'r') >= 1) &&
    got(target1, 'd1') >= 1 && got(target2, 'd2') >= 1);
  await sleep(300); // duplicates, if any, would have come by now

  for (const c of clients) {
    for (const t of tags) assert.strictEqual(got(c, t), 1, `client ${c.i} (${c.node}) got ${t} ${got(c, t)} times`);
    assert.strictEqual(got(c, 'r'), roomWant.includes(c) ? 1 : 0, `client ${c.i} (${c.node}): room write`);
    assert.strictEqual(got(c, 'd1'), c === target1 ? 1 : 0, `client ${c.i}: d1`);
    assert.strictEqual(got(c, 'd2'), c === target2 ? 1 : 0, `client ${c.i}: d2`);
  }
  await presenceEverywhere(['python', 'node', 'lua'], expectedLobby());
});

test('redis-server killed and started again: errors, local delivery, recovery', async () => {
  const names = ['python', 'node', 'lua'];
  for (const n of names) nodes[n].errors.length = 0;
  await stopChild(redis, 'SIGKILL');
  await until('every node reports error::disconnect', () => names.every((n) => nodes[n].errors.includes('disconnect')));
  // Redis away: a broadcast reaches this node's own clients, and only them.
  await command(nodes.python, { cmd: 'broadcast', tag: 'local' });
  const own = clients.filter((c) => c.node === 'python');
  await until('local delivery while Redis is away', () => own.every((c) => got(c, 'local') === 1));
  await sleep(400); // refused attempts meanwhile: error::connect
  await startRedis();
  await presenceEverywhere(names, expectedLobby()); // reconnected and registered again
  for (const n of names) {
    assert.ok(nodes[n].errors.includes('connect'), `${n}: error::connect while Redis was away`);
  }
  const t0 = Date.now();
  await command(nodes.lua, { cmd: 'broadcast', tag: 'after' });
  await until('cross-node delivery after the restart', () => clients.every((c) => got(c, 'after') === 1));
  assert.ok(Date.now() - t0 < 10000);
  for (const c of clients) assert.strictEqual(got(c, 'local'), c.node === 'python' ? 1 : 0);
  for (const n of Object.values(nodes)) assert.strictEqual(n.child.exitCode, null, 'no node crashed');
});

test('a node killed with SIGKILL leaves presence within its ttl', async () => {
  const luaIds = new Set(clients.filter((c) => c.node === 'lua').map((c) => c.id));
  await stopChild(nodes.lua.child, 'SIGKILL');
  const t0 = Date.now();
  const want = expectedLobby().filter((id) => !luaIds.has(id));
  await presenceEverywhere(['python', 'node'], want);
  const took = Date.now() - t0;
  assert.ok(took <= TTL + 3000, `gone after ${took} ms (ttl ${TTL} ms)`);
});

// Recovery to another node (decision #24): two more nodes with recovery on
// (WEFT_RECOVERY), a Python one (where a weft Node client with recovery
// first connects, through a relay the test cuts with resets) and a Node one
// (where it comes back); the Node node of the cluster sends meanwhile.
const RECOVERY = 3000;
const plain = (v) => JSON.parse(JSON.stringify(v)); // Primus's objects come from another realm

/** A relay to `port()`; cut() resets every connection; refuse: resets new ones. */
function relay(port) {
  const r = { refuse: false, pairs: new Set() };
  r.server = net.createServer((down) => {
    if (r.refuse) return down.resetAndDestroy();
    const up = net.connect(port(), '127.0.0.1');
    const pair = [down, up];
    r.pairs.add(pair);
    down.pipe(up);
    up.pipe(down);
    const gone = () => { r.pairs.delete(pair); down.destroy(); up.destroy(); };
    for (const s of pair) s.on('error', gone).on('close', gone);
  });
  r.cut = () => { for (const [d, u] of r.pairs) { d.resetAndDestroy(); u.resetAndDestroy(); } };
  return new Promise((resolve) => r.server.listen(0, '127.0.0.1', () => resolve(r)));
}

test('recovery: cut off, 100 messages across nodes, back at another node: same id, rooms, the 100 once in order; past the window a fresh spark', async () => {
  const url = `redis://127.0.0.1:${redisPort}`;
  const env = { WEFT_RECOVERY: String(RECOVERY) };
  await Promise.all([
    startNode('pyr', path.join(ROOT, 'build-python', 'venv', 'bin', 'python'),
      [path.join(ROOT, 'python', 'tests', 'cluster_node.py'), url, String(TTL)], env, /^listening (\d+)/),
    startNode('noder', process.execPath, [path.join(ROOT, 'node', 'test', 'fixtures', 'cluster_node.js'), url, String(TTL)],
      env, /^listening (\d+)/),
  ]);
  const told = []; // [node, {spark, id, recovered}]
  for (const n of ['pyr', 'noder']) {
    await connectControl(nodes[n]);
    nodes[n].ctl.on('data', (m) => { if (m && typeof m === 'object' && m.spark === 0) told.push([n, m]); });
  }
  let to = 'pyr';
  const r = await relay(() => Number(new URL(nodes[to].url).port));
  const c = new weft.Client(`ws://127.0.0.1:${r.server.address().port}/primus?i=0&rooms=r1,r2`,
    { recovery: true, reconnect: { min: 50, max: 200, retries: 100 } });
  const got = [];
  const resumed = [];
  c.on('data', (m) => got.push(m));
  c.on('recovered', (id) => resumed.push(id));
  try {
    await until('connected at the Python node', () => told.length === 1);
    const [, first] = told[0];
    assert.deepStrictEqual([told[0][0], first.recovered], ['pyr', false]);
    const id = first.id;
    r.refuse = true;
    r.cut();
    await sleep(300); // its node has seen it go
    const sender = nodes.node; // its commands in one go, run in order (each awaited is 50 ms)
    const before = sender.replies.length;
    let sent = 0;
    const send = (cmd) => { sender.ctl.write(cmd); sent++; };
    for (let i = 1; i <= 100; i++) {
      const tag = `m${i}`;
      send(i % 3 === 0 ? { cmd: 'broadcast', tag } : i % 3 === 1 ? { cmd: 'room', room: 'r2', except: [], tag } : { cmd: 'direct', id, tag });
      if (i % 10 === 0) {
        send({ cmd: 'room', room: 'r3', except: [], tag: 'no-r3' });
        send({ cmd: 'room', room: 'r1', except: [id], tag: 'no-except' });
      }
    }
    await until('the 120 commands done', () => sender.replies.length === before + sent);
    await sleep(200);
    to = 'noder';
    r.refuse = false;
    await until('resumed at the Node node with the 100', () => told.length === 2 && got.filter((m) => /^m/.test(m)).length >= 100);
    assert.deepStrictEqual(plain(told[1]), ['noder', { spark: 0, id, recovered: true }]);
    assert.deepStrictEqual(resumed, [id]);
    assert.strictEqual(c.recovered, true);
    await command(sender, { cmd: 'broadcast', tag: 'new' });
    await until('a new message after them', () => got.includes('new'));
    await sleep(200); // duplicates, if any, would have come by now
    const want = Array.from({ length: 100 }, (_, i) => `m${i + 1}`);
    assert.deepStrictEqual(got, [...want, 'new'], 'the 100 in order once (nothing for r3 or with except), then the new one');
    for (const n of ['pyr', 'node']) { // the registry and the rooms follow it
      assert.deepStrictEqual(plain((await command(nodes[n], { cmd: 'presence', room: 'r2' })).ids), [id]);
    }
    // Past the window: back at the Python node, a fresh spark, and both sides know.
    r.refuse = true;
    r.cut();
    await sleep(RECOVERY + 1000);
    to = 'pyr';
    r.refuse = false;
    await until('a fresh spark past the window', () => told.length === 3);
    assert.strictEqual(told[2][0], 'pyr');
    assert.strictEqual(told[2][1].recovered, false);
    assert.notStrictEqual(told[2][1].id, id);
    await until('the client is told', () => c.recovered === false);
  } finally {
    c.end();
    r.server.close();
  }
});
