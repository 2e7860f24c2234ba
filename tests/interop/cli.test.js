'use strict';
//
// The `weft serve` command itself (not the test peer): broadcast and echo
// modes with the official Primus client, its output lines, and a clean exit
// on SIGINT and SIGTERM. Runs only when WEFT_CLI points at build/weft.
//
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const WebSocket = require('ws');
const readline = require('node:readline');
const { describe, test } = require('node:test');
const h = require('./lib/harness');

const CLI = process.env.WEFT_CLI;

function startCli(t, args) {
  const child = spawn(CLI, ['serve', '--host', '127.0.0.1', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe']
  });
  const lines = [];
  const waiters = [];
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    for (const w of waiters.slice()) if (w.re.test(line)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(line); }
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  const waitLine = (re, ms = 5000) => {
    const seen = lines.find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    return h.withTimeout(new Promise((resolve) => waiters.push({ re, resolve })), ms, `line ${re}`);
  };
  return { child, lines, exited, waitLine };
}

describe('weft serve (CLI)', { skip: CLI ? false : 'WEFT_CLI not set' }, () => {
  test('broadcast mode: every message reaches every client; SIGINT exits 0', { timeout: 20000 }, async (t) => {
    const cli = startCli(t, ['--mode', 'broadcast', '--path', '/chat']);
    const ready = await cli.waitLine(/^listening on /);
    const m = /^listening on ws:\/\/127\.0\.0\.1:(\d+)\/chat$/.exec(ready);
    assert.ok(m, `listening line: ${ready}`);
    // A Primus client library takes its path from the server that generated
    // it: generate one for /chat.
    const Socket = require('primus').createSocket({ transformer: 'websockets', pathname: '/chat' });
    const connect = () => new Promise((resolve, reject) => {
      const c = new Socket(`http://127.0.0.1:${m[1]}`);
      t.after(() => h.closeClient(c));
      c.once('open', () => resolve(c));
      c.once('error', reject);
    });
    const a = await connect();
    const b = await connect();
    await cli.waitLine(/^connection \S{21} 127\.0\.0\.1:\d+$/);
    const got = Promise.all([h.nextMessage(a), h.nextMessage(b)]);
    a.write({ from: 'a', text: 'hello ☃' });
    assert.deepStrictEqual(await got, [{ from: 'a', text: 'hello ☃' }, { from: 'a', text: 'hello ☃' }]);
    h.closeClient(a);
    await cli.waitLine(/^disconnection \S{21}$/);
    cli.child.kill('SIGINT');
    assert.deepStrictEqual(await cli.exited, { code: 0, signal: null });
  });

  test('echo mode with msgpack; SIGTERM exits 0', { timeout: 20000 }, async (t) => {
    const cli = startCli(t, ['--mode', 'echo', '--parser', 'msgpack', '--ping-interval', '1000']);
    const port = /:(\d+)\//.exec(await cli.waitLine(/^listening on /))[1];
    const url = `http://127.0.0.1:${port}/primus`;
    const a = await h.connectClient(t, url, { parser: 'msgpack' });
    const b = await h.connectClient(t, url, { parser: 'msgpack' });
    const none = [];
    b.on('data', (d) => none.push(d));
    const msg = { n: 1, list: [1.5, -3, null, true], s: 'x'.repeat(300) };
    a.write(msg);
    assert.deepStrictEqual(await h.nextMessage(a), msg);
    assert.deepStrictEqual(none, [], 'echo mode answers only the sender');
    cli.child.kill('SIGTERM');
    assert.deepStrictEqual(await cli.exited, { code: 0, signal: null });
  });

  test('bad options are refused with status 2', { timeout: 10000 }, async (t) => {
    for (const args of [['--parser', 'xml'], ['--mode', 'fanout'], ['--port', '70000'], ['--bogus', '1'],
      ['--transformer', 'sockjs'], ['--transformer', 'websockets,websockets'], ['--unix-mode', '999'], ['--queue-policy', 'maybe'],
      ['--max-connections', '-1'], ['--session-heartbeat', '5'], ['--session-heartbeat', '0,5'],
      ['--session-heartbeat', '5,x'], ['--session-cookie', 'a b']]) {
      const cli = startCli(t, args);
      assert.deepStrictEqual(await cli.exited, { code: 2, signal: null }, args.join(' '));
    }
  });

  test('an unknown transformer is named with the ones there are', { timeout: 10000 }, async (t) => {
    const child = spawn(CLI, ['serve', '--transformer', 'sockjs'], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(code, 2);
    assert.match(err, /unknown transformer sockjs \(available: websockets, engine.io, fast-tcp, vibe\)/);
  });
});

// The npm `ws` client, as a generic WebSocket peer: one text and one binary
// message echoed (the raw parser sends frames back as they came).
async function wsEcho(t, url) {
  const ws = new WebSocket(url);
  t.after(() => ws.terminate());
  await h.withTimeout(new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); }), 5000, `open ${url}`);
  const next = () => h.withTimeout(new Promise((resolve) => ws.once('message', (d, binary) => resolve({ d, binary }))), 5000, 'echo');
  let got = next();
  ws.send('hello ☃');
  const text = await got;
  assert.equal(text.binary, false);
  assert.equal(text.d.toString(), 'hello ☃');
  got = next();
  ws.send(Buffer.from([0, 1, 2, 255]));
  const bin = await got;
  assert.equal(bin.binary, true);
  assert.deepStrictEqual([...bin.d], [0, 1, 2, 255]);
  ws.close();
}

describe('weft serve at any path and on Unix sockets', { skip: CLI ? false : 'WEFT_CLI not set' }, () => {
  test('--path / --parser raw: the npm ws client echoes at / and below', { timeout: 20000 }, async (t) => {
    const cli = startCli(t, ['--path', '/', '--parser', 'raw']);
    const ready = await cli.waitLine(/^listening on /);
    const m = /^listening on (ws:\/\/127\.0\.0\.1:\d+)\/$/.exec(ready);
    assert.ok(m, `listening line: ${ready}`);
    await wsEcho(t, `${m[1]}/`);
    await wsEcho(t, `${m[1]}/any/where?x=1`);
    cli.child.kill('SIGTERM');
    assert.deepStrictEqual(await cli.exited, { code: 0, signal: null });
  });

  test('--path /: the Primus client echoes, and /spec names the path', { timeout: 20000 }, async (t) => {
    const cli = startCli(t, ['--path', '/']);
    const port = /:(\d+)\/$/.exec(await cli.waitLine(/^listening on /))[1];
    const spec = await new Promise((resolve, reject) => {
      require('node:http').get(`http://127.0.0.1:${port}/spec`, (res) => {
        let body = '';
        res.on('data', (d) => { body += d; });
        res.on('end', () => resolve(JSON.parse(body)));
      }).on('error', reject);
    });
    assert.equal(spec.pathname, '/');
    assert.equal(spec.transformer, 'websockets');
    const Socket = require('primus').createSocket({ transformer: 'websockets', pathname: '/' });
    const c = new Socket(`http://127.0.0.1:${port}`);
    t.after(() => h.closeClient(c));
    await h.withTimeout(new Promise((resolve, reject) => { c.once('open', resolve); c.once('error', reject); }), 5000, 'open');
    const got = h.nextMessage(c);
    c.write({ at: '/', n: 1 });
    assert.deepStrictEqual(await got, { at: '/', n: 1 });
    cli.child.kill('SIGTERM');
    assert.deepStrictEqual(await cli.exited, { code: 0, signal: null });
  });

  test('--listen ws+unix: the npm ws client echoes over the socket; the file goes at exit', { timeout: 20000 }, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-unix-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const sock = path.join(dir, 'app.sock');
    const cli = startCli(t, ['--listen', `ws+unix://${sock}:/primus`, '--listen', 'ws://127.0.0.1:0/',
      '--parser', 'raw', '--unix-mode', '600']);
    await cli.waitLine(new RegExp(`^listening on ws\\+unix://${sock.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:/primus$`));
    await cli.waitLine(/^listening on ws:\/\/127\.0\.0\.1:\d+\/$/);
    assert.equal(fs.statSync(sock).mode & 0o777, 0o600);
    await wsEcho(t, `ws+unix://${sock}:/primus`);
    cli.child.kill('SIGINT');
    assert.deepStrictEqual(await cli.exited, { code: 0, signal: null });
    assert.equal(fs.existsSync(sock), false);
  });
});
