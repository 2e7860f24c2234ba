'use strict';
//
// Cross-host acknowledgements (issue #9): an event emitted with an ack by a
// client of one host, answered by a server of another host, over real
// sockets on 127.0.0.1. Each server is a small script of its host's test
// folder that listens on port 0, prints "listening <port>", resolves "sum"
// with the sum of its arguments and rejects "fail" with "nope".
//
// Needs the hosts built: the C tools in $WEFT_BUILD (default build/), the
// Lua module in $WEFT_BUILD/lua/5.4, the Node addon in node/build, the
// Python package in build-python/venv.
// scripts/test.sh runs this after the host stages.
//
const { test, after } = require('node:test');
const assert = require('node:assert');
const { spawn, execFile } = require('node:child_process');
const path = require('node:path');
const readline = require('node:readline');

const ROOT = path.resolve(__dirname, '..', '..');
const BUILD = path.resolve(ROOT, process.env.WEFT_BUILD || 'build');
const ACK_CLIENT = path.join(BUILD, 'tests', 'weft_ack_client');
const started = new Set();

after(() => {
  for (const child of started) child.kill('SIGTERM');
});

/** Starts a server script and resolves with { child, url } once it listens. */
function startServer(file, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    started.add(child);
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => reject(new Error(`${file}: not listening after 10 s\n${stderr}`)), 10000);
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /^listening (\d+)/.exec(line);
      if (!m) return;
      clearTimeout(timer);
      resolve({ child, url: `ws://127.0.0.1:${m[1]}/primus` });
    });
    child.on('exit', (code) => {
      started.delete(child);
      clearTimeout(timer);
      reject(new Error(`${file} exited (${code}) before listening\n${stderr}`));
    });
  });
}

function stop(server) {
  return new Promise((resolve) => {
    if (server.child.exitCode !== null) return resolve();
    server.child.once('exit', () => resolve());
    server.child.kill('SIGTERM');
  });
}

/** The C client: emits once, returns its printed outcome. */
function cEmit(url, event, args, want, expected) {
  return new Promise((resolve) => {
    execFile(ACK_CLIENT, [url, event, JSON.stringify(args), want, JSON.stringify(expected)],
      { timeout: 15000 }, (err, stdout, stderr) => {
        resolve({ code: err ? err.code : 0, out: stdout.trim(), stderr });
      });
  });
}

const luaServer = () => startServer('lua5.4', [path.join(ROOT, 'lua', 'tests', 'reject_server.lua')], {
  LUA_CPATH: path.join(BUILD, 'lua', '5.4', '?.so'),
});
const nodeServer = () => startServer(process.execPath, [path.join(ROOT, 'node', 'test', 'fixtures', 'ack_server.js')]);

test('a C client emits to a Lua server: rejected, and resolved', async () => {
  const server = await luaServer();
  try {
    const no = await cEmit(server.url, 'fail', [], 'rejected', 'nope');
    assert.strictEqual(no.code, 0, `${no.out} ${no.stderr}`);
    assert.deepStrictEqual(JSON.parse(no.out), { status: 'EREJECTED', value: 'nope' });
    const yes = await cEmit(server.url, 'sum', [1, 2, 3], 'resolved', 6);
    assert.strictEqual(yes.code, 0, `${yes.out} ${yes.stderr}`);
  } finally {
    await stop(server);
  }
});

test('a C client emits to a Node server: resolved, and rejected', async () => {
  const server = await nodeServer();
  try {
    const yes = await cEmit(server.url, 'sum', [40, 2], 'resolved', 42);
    assert.strictEqual(yes.code, 0, `${yes.out} ${yes.stderr}`);
    const no = await cEmit(server.url, 'fail', ['x'], 'rejected', 'nope');
    assert.strictEqual(no.code, 0, `${no.out} ${no.stderr}`);
  } finally {
    await stop(server);
  }
});

test('nmsg callbacks C <-> Node: depths 1 (C), 2 (Node) and 3 (C), each called back across', async () => {
  const server = await nodeServer();
  try {
    const r = await cEmit(server.url, 'chain', ['q'], 'chain', 'v3:v2');
    assert.strictEqual(r.code, 0, `${r.out} ${r.stderr}`);
    assert.deepStrictEqual(JSON.parse(r.out), { status: 'OK', value: 'v3:v2' });
  } finally {
    await stop(server);
  }
});

/** The Python client (python/tests/ack_client.py, in the venv python/test.sh made). */
function pyEmit(url, event, args, want, expected) {
  const py = path.join(ROOT, 'build-python', 'venv', 'bin', 'python');
  return new Promise((resolve) => {
    execFile(py, [path.join(ROOT, 'python', 'tests', 'ack_client.py'), url, event,
      JSON.stringify(args), want, JSON.stringify(expected)],
    { timeout: 20000 }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, out: stdout.trim(), stderr });
    });
  });
}

test('a Python client emits to a Node server: resolved, and rejected', async () => {
  const server = await nodeServer();
  try {
    const yes = await pyEmit(server.url, 'sum', [1, 2], 'resolved', 3);
    assert.strictEqual(yes.code, 0, `${yes.out} ${yes.stderr}`);
    assert.deepStrictEqual(JSON.parse(yes.out), { status: 'OK', value: 3 });
    const no = await pyEmit(server.url, 'fail', [], 'rejected', 'nope');
    assert.strictEqual(no.code, 0, `${no.out} ${no.stderr}`);
  } finally {
    await stop(server);
  }
});

test('nmsg callbacks Python <-> Lua: depths 1 (Python), 2 (Lua) and 3 (Python), each called back across', async () => {
  const server = await luaServer();
  try {
    const r = await pyEmit(server.url, 'chain', ['q'], 'chain', 'v3:v2');
    assert.strictEqual(r.code, 0, `${r.out} ${r.stderr}`);
    assert.deepStrictEqual(JSON.parse(r.out), { status: 'OK', value: 'v3:v2' });
  } finally {
    await stop(server);
  }
});

test('a Python client emits to a Lua server: rejected', async () => {
  const server = await luaServer();
  try {
    const no = await pyEmit(server.url, 'fail', [], 'rejected', 'nope');
    assert.strictEqual(no.code, 0, `${no.out} ${no.stderr}`);
  } finally {
    await stop(server);
  }
});

/** weft's browser client, run in Node with the ws package as its WebSocket. */
async function jsRequest(url, event, args) {
  const { Weft } = await import(path.join(ROOT, 'clients', 'js', 'src', 'weft.js'));
  const WebSocket = require(path.join(ROOT, 'tests', 'interop', 'node_modules', 'ws'));
  const client = new Weft(url, { WebSocket, emitter: true, network: false });
  try {
    return { value: await client.request(event, args, { timeout: 5000 }) };
  } catch (err) {
    return { err };
  } finally {
    client.end();
  }
}

test('the browser client emits to a Node server (resolved) and a Lua server (rejected)', async () => {
  const node = await nodeServer();
  try {
    assert.deepStrictEqual(await jsRequest(node.url, 'sum', [20, 22]), { value: 42 });
  } finally {
    await stop(node);
  }
  const lua = await luaServer();
  try {
    const { err } = await jsRequest(lua.url, 'fail', []);
    assert.strictEqual(err.kind, 'rejected');
    assert.strictEqual(err.reason, 'nope');
  } finally {
    await stop(lua);
  }
});
