'use strict';
//
// weft's client through the CLI `weft connect URL …` (shared by
// client.test.js and client_engineio.test.js): the peers (the REAL Primus 8
// server, primus_server.js, always; weft's own test server when
// WEFT_TEST_SERVER is set), the CLI process, and the battery every peer
// gets. Runs only when WEFT_CLI points at build/weft.
//
// The CLI contract: stdin lines are sent (the JSON value when the line parses
// as JSON, else the string; "/id" asks for the spark id, "/end" ends; EOF
// ends); stdout has each incoming message as one line of compact JSON;
// stderr one line per event (open, close, end, timeout, reconnect scheduled
// <attempt> <retries> <delay_ms>, reconnect <attempt>, reconnected <attempt>,
// reconnect failed, online, offline, id <id>, error <kind> <status> <message>).
// Exit status 0 after `end`, 1 when reconnects ran out or the server refused.
//
// Servers are started here (not with harness.startServer, which picks ONE
// server from the environment) but with the harness's TestServer, so their
// stdout contract and PID-based cleanup are the same. Every process started
// here is killed by its PID only.
//
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { StringDecoder } = require('node:string_decoder');
const { describe, test } = require('node:test');
const h = require('./harness');
const { buildMessages } = require('./messages');

const CLI = process.env.WEFT_CLI ? path.resolve(process.env.WEFT_CLI) : null;
const READY_TIMEOUT = Number(process.env.WEFT_INTEROP_READY_MS) ||
  (process.env.WEFT_TEST_SERVER_WRAPPER ? 30000 : 5000);

// ---------------------------------------------------------------------------
// Peers
// ---------------------------------------------------------------------------

function primusCommand() {
  return { file: process.execPath, args: [path.join(h.INTEROP_DIR, 'primus_server.js')] };
}

function weftCommand() {
  const file = path.resolve(process.env.WEFT_TEST_SERVER);
  fs.accessSync(file, fs.constants.X_OK);
  const wrapper = (process.env.WEFT_TEST_SERVER_WRAPPER || '').trim().split(/\s+/).filter(Boolean);
  if (wrapper.length) return { file: wrapper[0], args: [...wrapper.slice(1), file] };
  return { file, args: [] };
}

const PEERS = [{ name: 'Primus 8 server', command: primusCommand }];
if (process.env.WEFT_TEST_SERVER) PEERS.push({ name: 'weft test server', command: weftCommand });

const mine = new Set(); // PIDs started by this file
process.on('exit', () => {
  for (const pid of mine) {
    try { process.kill(pid, 'SIGKILL'); } catch (e) { /* gone */ }
  }
});

async function startPeer(t, peer, opts = {}) {
  const cmd = peer.command();
  const args = [...cmd.args, '--host', h.HOST, '--port', String(opts.port || 0)];
  if (opts.parser) args.push('--parser', opts.parser);
  if (opts.pingInterval !== undefined) args.push('--ping-interval', String(opts.pingInterval));
  if (opts.auth !== undefined) args.push('--auth', opts.auth);
  if (opts.transformer && opts.transformer !== 'websockets') args.push('--transformer', opts.transformer);
  const child = spawn(cmd.file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) {
    const err = await new Promise((resolve) => child.once('error', resolve));
    throw new Error(`cannot start ${cmd.file}: ${err && err.message}`);
  }
  mine.add(child.pid);
  child.once('exit', () => mine.delete(child.pid));
  const srv = new h.TestServer(child, args);
  h.defer(t, () => srv.stop().catch(() => {}));
  try {
    const { match } = await srv.waitForLine(/^listening on (ws:\/\/([^/]+):(\d+)(\/\S*))$/,
      { timeout: READY_TIMEOUT });
    srv.url = match[1];
    srv.port = Number(match[3]);
  } catch (e) {
    await srv.kill();
    throw e;
  }
  if (opts.port && srv.port !== opts.port) throw new Error(`server on ${srv.port}, asked ${opts.port}`);
  return srv;
}

async function startPeerOnPort(t, peer, port, opts = {}) {
  let last;
  for (let i = 0; i < 20; i++) {
    try {
      return await startPeer(t, peer, { ...opts, port });
    } catch (e) {
      last = e;
      await h.delay(150);
    }
  }
  throw last;
}

// ---------------------------------------------------------------------------
// The CLI
// ---------------------------------------------------------------------------

function splitLines(stream, onLine) {
  const dec = new StringDecoder('utf8');
  let buf = '';
  stream.on('data', (d) => {
    buf += dec.write(d);
    let start = 0;
    let i;
    while ((i = buf.indexOf('\n', start)) >= 0) {
      onLine(buf.slice(start, i));
      start = i + 1;
    }
    buf = buf.slice(start);
  });
  stream.on('end', () => {
    buf += dec.end();
    if (buf) onLine(buf);
    buf = '';
  });
}

class Cli {
  constructor(t, url, args, { stdinFile = null } = {}) {
    this.argv = ['connect', url, ...args];
    const fd = stdinFile ? fs.openSync(stdinFile, 'r') : null;
    this.child = spawn(CLI, this.argv, { stdio: [fd === null ? 'pipe' : fd, 'pipe', 'pipe'] });
    if (fd !== null) fs.closeSync(fd);
    this.pid = this.child.pid;
    this.out = []; // stdout lines
    this.err = []; // stderr lines
    this.exitInfo = null;
    if (this.pid !== undefined) mine.add(this.pid);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        mine.delete(this.pid);
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
      this.child.once('error', (e) => {
        this.exitInfo = { code: null, signal: null, error: e.message };
        resolve(this.exitInfo);
      });
    });
    if (this.child.stdin) this.child.stdin.on('error', () => { /* EPIPE after exit: checked elsewhere */ });
    splitLines(this.child.stdout, (l) => this.out.push(l));
    splitLines(this.child.stderr, (l) => {
      this.err.push(l);
      if (process.env.WEFT_INTEROP_VERBOSE) process.stderr.write(`[cli ${this.pid}] ${l}\n`);
    });
    h.defer(t, async () => {
      if (this.exitInfo) return;
      try { process.kill(this.pid, 'SIGKILL'); } catch (e) { /* gone */ }
      await this.exited;
    });
  }

  alive() { return this.exitInfo === null; }

  send(line) { this.child.stdin.write(line + '\n'); }

  sendValue(v) { this.send(JSON.stringify(v)); }

  endInput() { this.child.stdin.end(); }

  describe() {
    return `weft ${this.argv.join(' ')}: exit ${JSON.stringify(this.exitInfo)}; ` +
      `stderr ${JSON.stringify(this.err.slice(-25))}; stdout (${this.out.length} lines) ` +
      `${JSON.stringify(this.out.slice(-5).map((l) => l.slice(0, 200)))}`;
  }

  /** Index of the first stderr line at or after `from` matching re, or -1. */
  findErr(re, from = 0) {
    for (let i = from; i < this.err.length; i++) if (re.test(this.err[i])) return i;
    return -1;
  }

  /** Wait for a stderr line matching re (at index >= from); resolves with its index. */
  async waitErr(re, { from = 0, timeout = 5000 } = {}) {
    let idx = -1;
    try {
      await h.waitUntil(() => (idx = this.findErr(re, from)) >= 0, timeout, `stderr ${re}`);
    } catch (e) {
      throw new Error(`${e.message}; ${this.describe()}`);
    }
    return idx;
  }

  async waitOut(n, timeout = 5000) {
    try {
      await h.waitUntil(() => this.out.length >= n, timeout, `${n} stdout lines (got ${this.out.length})`, 10);
    } catch (e) {
      throw new Error(`${e.message}; ${this.describe()}`);
    }
  }

  async waitExit(timeout = 5000) {
    try {
      return await h.withTimeout(this.exited, timeout, 'CLI exit');
    } catch (e) {
      throw new Error(`${e.message}; ${this.describe()}`);
    }
  }

  /** One echo round trip of a distinct value; resolves with nothing. */
  async echo(value, timeout = 5000) {
    const n = this.out.length;
    this.sendValue(value);
    await this.waitOut(n + 1, timeout);
    assert.deepStrictEqual(JSON.parse(this.out[n]), value, `echo of ${JSON.stringify(value)}; ${this.describe()}`);
  }
}

function startCli(t, url, args = [], opts = {}) {
  return new Cli(t, url, args, opts);
}

// Event lines that mean the connection was lost or retried.
const TROUBLE = /^(close|end|timeout|offline|reconnect|error)\b/;

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

function cliBattery({ transformer = 'websockets', transports = null, full = true } = {}) {
  // The peers run `transformer`; the CLI speaks it (in engine.io's
  // `transports` way in, when given).
  const way = transports ? `, ${transports}` : '';
  const args = (...a) => [...a, ...(transformer === 'websockets' ? [] : ['--transformer', transformer]),
    ...(transports ? ['--transports', transports] : [])];
  const only = full ? test : (name, ...rest) => (/exact echo/.test(name) ? test(name, ...rest) : undefined);
  for (const peer of PEERS) {
    const start = (t, p, o = {}) => startPeer(t, p, { ...o, transformer });
    const startOnPort = (t, p, port, o = {}) => startPeerOnPort(t, p, port, { ...o, transformer });
    describe(`weft connect (CLI, ${transformer}${way}) against the ${peer.name}`, { skip: CLI ? false : 'WEFT_CLI not set' }, () => {
      for (const parser of ['json', 'msgpack']) {
        only(`${parser}: exact echo of 1000+ varied messages, in order; EOF ends with status 0`,
          { timeout: 30000 }, async (t) => {
            const srv = await start(t, peer, { parser });
            const cli = startCli(t, srv.url, args('--parser', parser));
            const msgs = buildMessages(parser);
            assert.ok(msgs.length >= 1000);
            // Written at once: the first ones queue while the client connects.
            for (const m of msgs) cli.sendValue(m.value);
            await cli.waitOut(msgs.length, 20000);
            for (let i = 0; i < msgs.length; i++) {
              let got;
              try {
                got = JSON.parse(cli.out[i]);
              } catch (e) {
                assert.fail(`stdout line ${i} (${msgs[i].label}) is not JSON: ${cli.out[i].slice(0, 200)}`);
              }
              assert.deepStrictEqual(got, msgs[i].value, `message ${i}: ${msgs[i].label}`);
            }
            assert.equal(cli.findErr(TROUBLE), -1, `no trouble events; ${cli.describe()}`);
            assert.equal(cli.err.filter((l) => l === 'open').length, 1, cli.describe());
            assert.deepStrictEqual(srv.linesMatching(/^error /), [], 'the server saw no error');
            cli.endInput();
            const exit = await cli.waitExit();
            assert.deepStrictEqual(exit, { code: 0, signal: null }, cli.describe());
            assert.equal(cli.err[cli.err.length - 1], 'end', cli.describe());
            assert.equal(cli.out.length, msgs.length, 'nothing more on stdout');
          });

        only(`${parser}: pings answered for 3+ intervals at 1 s, no reconnect, echo still works`,
          { timeout: 20000 }, async (t) => {
            const srv = await start(t, peer, { parser, pingInterval: 1000 });
            const cli = startCli(t, srv.url, args('--parser', parser, '--ping-timeout', '1500'));
            await cli.waitErr(/^open$/);
            const mark = cli.err.length;
            await h.delay(3600);
            assert.deepStrictEqual(cli.err.slice(mark).filter((l) => TROUBLE.test(l)), [],
              `no close/reconnect/offline for 3.6 s; ${cli.describe()}`);
            assert.deepStrictEqual(srv.linesMatching(/^disconnection /), [], 'the server never dropped it');
            assert.ok(cli.alive(), cli.describe());
            await cli.echo({ still: 'alive', after: [3.6, 's'] });
            cli.send('/end');
            const exit = await cli.waitExit();
            assert.deepStrictEqual(exit, { code: 0, signal: null }, cli.describe());
            assert.ok(cli.findErr(/^end$/, mark) >= 0, cli.describe());
          });

        only(`${parser}: the server ends the spark: end, no reconnect, exit 0`, { timeout: 15000 }, async (t) => {
          const srv = await start(t, peer, { parser });
          const cli = startCli(t, srv.url, args('--parser', parser));
          await cli.waitErr(/^open$/);
          await cli.echo({ before: 'end' });
          const mark = cli.err.length;
          const t0 = Date.now();
          cli.sendValue({ __weft_test: 'end' });
          const endAt = await cli.waitErr(/^end$/, { from: mark });
          const exit = await cli.waitExit(3000);
          // Whatever came after `end` (until exit, or 1.5 s) holds no reconnect.
          const waited = Date.now() - t0;
          if (waited < 1500 && cli.alive()) await h.delay(1500 - waited);
          assert.deepStrictEqual(exit, { code: 0, signal: null }, cli.describe());
          assert.equal(cli.findErr(/^reconnect/, mark), -1, `no reconnect; ${cli.describe()}`);
          assert.equal(cli.err.filter((l) => l === 'end').length, 1, cli.describe());
          const closeAt = cli.findErr(/^close$/, mark);
          assert.ok(closeAt >= 0 && closeAt < endAt, `close then end (Primus order); ${cli.describe()}`);
          await srv.waitForLine(/^disconnection \S+$/);
        });

        only(`${parser}: server killed and restarted on the same port: reconnects, lines written while down arrive once, in order`,
          { timeout: 30000 }, async (t) => {
            const srv = await start(t, peer, { parser });
            const port = srv.port;
            const cli = startCli(t, srv.url,
              args('--parser', parser, '--reconnect-min', '100', '--reconnect-max', '500', '--retries', '30'));
            await cli.waitErr(/^open$/);
            await cli.echo({ seq: -1 });
            const mark = cli.err.length;
            await srv.kill();
            await cli.waitErr(/^close$/, { from: mark });
            // Written while down: the first batch right after close, the rest
            // once retries are under way.
            const sent = [];
            for (let i = 0; i < 20; i++) sent.push({ seq: i, text: `while down ${i} é😀`, pad: 'x'.repeat(i * 37) });
            for (const v of sent.slice(0, 10)) cli.sendValue(v);
            await cli.waitErr(/^reconnect \d+$/, { from: mark, timeout: 5000 });
            for (const v of sent.slice(10)) cli.sendValue(v);
            await h.delay(200);
            const srv2 = await startOnPort(t, peer, port, { parser });
            const okAt = await cli.waitErr(/^reconnected \d+$/, { from: mark, timeout: 15000 });
            const openAt = await cli.waitErr(/^open$/, { from: mark, timeout: 5000 });
            await cli.waitOut(1 + sent.length, 10000);
            await h.delay(300); // a duplicate would show up now
            const got = cli.out.map((l) => JSON.parse(l));
            assert.deepStrictEqual(got, [{ seq: -1 }, ...sent], `every line once, in order; ${cli.describe()}`);
            // The event lines, in Primus's order.
            const lines = cli.err.slice(mark);
            const schedAt = cli.findErr(/^reconnect scheduled /, mark);
            const recAt = cli.findErr(/^reconnect \d+$/, mark);
            assert.ok(schedAt > mark - 1 && schedAt < recAt && recAt < okAt && okAt < openAt,
              `close, reconnect scheduled, reconnect, reconnected, open: ${JSON.stringify(lines)}`);
            assert.equal(cli.findErr(/^(end|reconnect failed)$/, mark), -1, cli.describe());
            for (const l of lines.filter((x) => x.startsWith('reconnect scheduled '))) {
              const m = /^reconnect scheduled (\d+) (\d+) (\d+)$/.exec(l);
              assert.ok(m, `format of "${l}"`);
              const [attempt, retries, delay] = m.slice(1).map(Number);
              assert.equal(retries, 30, l);
              assert.ok(attempt >= 1 && attempt <= 30, l);
              assert.ok(delay >= 100 && delay <= 500, `delay within [min, max]: ${l}`);
            }
            assert.ok(cli.alive(), cli.describe());
            await srv2.waitForLine(/^connection \S+$/);
            cli.send('/end');
            assert.deepStrictEqual(await cli.waitExit(), { code: 0, signal: null }, cli.describe());
          });
      }

      only('json: a 401 refusal is reported, ends the client with status 1, no reconnect', { timeout: 15000 }, async (t) => {
        const srv = await start(t, peer, { auth: 'secret' });
        const base = srv.url;
        const refused = [startCli(t, base, args()), startCli(t, `${base}?token=wrong`, args())];
        const good = startCli(t, `${base}?token=secret`, args());
        for (const cli of refused) {
          const exit = await cli.waitExit(8000);
          assert.deepStrictEqual(exit, { code: 1, signal: null }, cli.describe());
          const errAt = cli.findErr(/^error http 401 /);
          const endAt = cli.findErr(/^end$/);
          assert.ok(errAt >= 0 && endAt > errAt, `error http 401 …, then end; ${cli.describe()}`);
          assert.equal(cli.findErr(/^(reconnect|open)/), -1, `no reconnect; ${cli.describe()}`);
        }
        await good.waitErr(/^open$/);
        await good.echo({ authorized: true });
        good.send('/end');
        assert.deepStrictEqual(await good.waitExit(), { code: 0, signal: null }, good.describe());
        assert.equal(srv.linesMatching(/^connection /).length, 1);
      });

      only('json: /id prints the spark id the server knows', { timeout: 10000 }, async (t) => {
        const srv = await start(t, peer, {});
        const cli = startCli(t, srv.url, args());
        await cli.waitErr(/^open$/);
        const { match } = await srv.waitForLine(/^connection (\S+)$/);
        cli.send('/id');
        const at = await cli.waitErr(/^id /);
        assert.equal(cli.err[at], `id ${match[1]}`);
        const n = cli.out.length;
        cli.sendValue({ __weft_test: 'id' });
        await cli.waitOut(n + 1);
        assert.deepStrictEqual(JSON.parse(cli.out[n]), { id: match[1] });
        assert.equal(n, 0, 'the id answer is an event, not a message');
        cli.endInput();
        assert.deepStrictEqual(await cli.waitExit(), { code: 0, signal: null }, cli.describe());
      });

      only('json: stdin from a file (not a pipe) works: EOF ends, exit 0', { timeout: 10000 }, async (t) => {
        const srv = await start(t, peer, {});
        const file = path.join(os.tmpdir(), `weft-client-test-${process.pid}-${Date.now()}.txt`);
        const values = [{ from: 'file' }, 'two', [3], null];
        fs.writeFileSync(file, values.map((v) => JSON.stringify(v)).join('\n') + '\n');
        t.after(() => fs.rmSync(file, { force: true }));
        const cli = startCli(t, srv.url, args(), { stdinFile: file });
        const exit = await cli.waitExit(8000);
        assert.deepStrictEqual(exit, { code: 0, signal: null }, cli.describe());
        assert.equal(cli.err[cli.err.length - 1], 'end', cli.describe());
        // EOF ends the client at once, so echoes may or may not have come back
        // (writes still queued at end() are dropped): whatever came is in order.
        const got = cli.out.map((l) => JSON.parse(l));
        assert.deepStrictEqual(got, values.slice(0, got.length), cli.describe());
      });

      only('json: lines that are not JSON are sent as strings', { timeout: 10000 }, async (t) => {
        const srv = await start(t, peer, {});
        const cli = startCli(t, srv.url, args());
        const lines = ['hello world', '{not json', '', '/idx', ' /id', '"quoted"', '[1,2]', 'true', '  7  ', 'NaN'];
        const want = ['hello world', '{not json', '', '/idx', ' /id', 'quoted', [1, 2], true, 7, 'NaN'];
        for (const l of lines) cli.send(l);
        await cli.waitOut(want.length);
        assert.deepStrictEqual(cli.out.map((l) => JSON.parse(l)), want, cli.describe());
        assert.equal(cli.findErr(/^id /), -1, 'only a line that is exactly /id asks for the id');
        cli.send('/end');
        assert.deepStrictEqual(await cli.waitExit(), { code: 0, signal: null }, cli.describe());
      });
    });
  }
}

module.exports = { CLI, Cli, startCli, startPeer, cliBattery, TROUBLE };
