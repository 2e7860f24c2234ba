'use strict';
//
// The `weft serve` command itself (not the test peer): broadcast and echo
// modes with the official Primus client, its output lines, and a clean exit
// on SIGINT and SIGTERM. Runs only when WEFT_CLI points at build/weft.
//
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
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
    for (const args of [['--parser', 'xml'], ['--mode', 'fanout'], ['--port', '70000'], ['--bogus', '1']]) {
      const cli = startCli(t, args);
      assert.deepStrictEqual(await cli.exited, { code: 2, signal: null }, args.join(' '));
    }
  });
});
