'use strict';
//
// The `weft` command's help and its error paths: every --help prints and
// exits 0, every error names its cause (an unknown host, a TLS file with its
// path, a bad port, an unknown option or command) with the status of its
// kind (2 bad usage, 1 a failure while running), and no error path hangs.
// Then `make run PORT=…`: a quiet build, and the chat's URL the last line.
// Runs only when WEFT_CLI points at the CLI (as cli.test.js).
//
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { describe, test } = require('node:test');
const h = require('./lib/harness');

const CLI = process.env.WEFT_CLI;
const ROOT = path.resolve(__dirname, '..', '..');
const TLS = path.join(ROOT, 'tests', 'data', 'tls');

// Runs the CLI to its end (stdin closed at once), bounded: a hang fails.
function run(t, args, ms = 10000) {
  const child = spawn(CLI, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  child.stdin.end();
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const done = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, out, err })));
  return h.withTimeout(done, ms, `weft ${args.join(' ')} to exit`);
}

async function freePort() {
  const s = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => s.once('listening', resolve));
  const { port } = s.address();
  await new Promise((resolve) => s.close(resolve));
  return port;
}

describe('weft --help, --version', { skip: CLI ? false : 'WEFT_CLI not set' }, () => {
  test('weft --help names the commands and exits 0', { timeout: 15000 }, async (t) => {
    for (const flag of ['--help', '-h', 'help']) {
      const r = await run(t, [flag]);
      assert.equal(r.code, 0, flag);
      for (const want of ['weft serve', 'weft connect URL', '--version', 'exit status']) {
        assert.ok(r.out.includes(want), `${flag}: ${want} in\n${r.out}`);
      }
    }
  });

  test('weft serve --help lists every option and exits 0', { timeout: 15000 }, async (t) => {
    for (const args of [['serve', '--help'], ['serve', '--port', '1', '-h']]) {
      const r = await run(t, args);
      assert.equal(r.code, 0, args.join(' '));
      for (const opt of ['--listen', '--host', '--port', '--path', '--tls-cert', '--tls-key', '--unix-mode',
        '--transformer', '--parser', '--ping-interval', '--max-length', '--compression', '--mode',
        '--static', 'this build has: websockets']) {
        assert.ok(r.out.includes(opt), `${opt} in\n${r.out}`);
      }
    }
  });

  test('weft connect --help lists every option and exits 0 (with or without a URL)', { timeout: 15000 }, async (t) => {
    for (const args of [['connect', '--help'], ['connect', 'ws://127.0.0.1:1/primus', '--help']]) {
      const r = await run(t, args);
      assert.equal(r.code, 0, args.join(' '));
      for (const opt of ['--transformer', '--parser', '--reconnect-min', '--reconnect-max', '--retries',
        '--timeout', '--ping-timeout', '--strategy', '--header', '--ca-file', '--insecure']) {
        assert.ok(r.out.includes(opt), `${opt} in\n${r.out}`);
      }
    }
  });

  test('weft --version prints the version of the file VERSION', { timeout: 10000 }, async (t) => {
    const r = await run(t, ['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.out, `weft ${fs.readFileSync(path.join(ROOT, 'VERSION'), 'utf8').trim()}\n`);
  });
});

describe('weft: every error names its cause, and none hangs', { skip: CLI ? false : 'WEFT_CLI not set' }, () => {
  test('an unknown command, an unknown option, a missing value: status 2, named', { timeout: 15000 }, async (t) => {
    let r = await run(t, ['bogus']);
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown command bogus/);
    r = await run(t, []);
    assert.equal(r.code, 2);
    assert.match(r.err, /usage: weft/);
    r = await run(t, ['serve', '--bogus']);
    assert.equal(r.code, 2);
    assert.match(r.err, /--bogus: unknown option/);
    r = await run(t, ['serve', '--port']);
    assert.equal(r.code, 2);
    assert.match(r.err, /--port: needs a value/);
    r = await run(t, ['connect']);
    assert.equal(r.code, 2);
    assert.match(r.err, /usage: weft connect URL/);
  });

  test('a bad --redis URL or --redis-ttl: status 2, named', { timeout: 15000 }, async (t) => {
    let r = await run(t, ['serve', '--port', '0', '--redis', 'http://127.0.0.1:6379']);
    assert.equal(r.code, 2);
    assert.match(r.err, /--redis http:\/\/127\.0\.0\.1:6379: invalid argument/);
    r = await run(t, ['serve', '--port', '0', '--redis-ttl', '0']);
    assert.equal(r.code, 2);
    assert.match(r.err, /--redis-ttl 0: not a number of milliseconds/);
  });

  test('a bad --recovery window: status 2, named', { timeout: 15000 }, async (t) => {
    for (const v of ['-1', 'soon', '86400001']) {
      const r = await run(t, ['serve', '--port', '0', '--recovery', v]);
      assert.equal(r.code, 2);
      assert.match(r.err, new RegExp(`--recovery ${v}: not a number of milliseconds`));
    }
  });

  test('a bad port: status 2, the port and the range named', { timeout: 15000 }, async (t) => {
    for (const port of ['70000', '-1', 'http']) {
      const r = await run(t, ['serve', '--port', port]);
      assert.equal(r.code, 2, port);
      assert.ok(r.err.includes(`--port ${port}: not a port number (0 to 65535)`), r.err);
    }
  });

  test('an unknown host: serve (status 2) and connect (status 1) name it', { timeout: 30000 }, async (t) => {
    let r = await run(t, ['serve', '--host', 'nosuchhost.invalid', '--port', '0'], 20000);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /--host nosuchhost\.invalid: unknown host/);
    r = await run(t, ['connect', 'ws://nosuchhost.invalid:1/primus', '--retries', '0'], 20000);
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /cannot resolve nosuchhost\.invalid/);
    assert.match(r.err, /^end$/m);
  });

  test('a missing TLS file is named with its path', { timeout: 15000 }, async (t) => {
    const missing = path.join(os.tmpdir(), `weft-missing-${process.pid}`, 'cert.pem');
    let r = await run(t, ['serve', '--port', '0', '--tls-cert', missing, '--tls-key', path.join(TLS, 'key.pem')]);
    assert.equal(r.code, 2);
    assert.ok(r.err.includes(`--tls-cert ${missing}: No such file or directory`), r.err);
    r = await run(t, ['serve', '--port', '0', '--tls-cert', path.join(TLS, 'cert.pem'), '--tls-key', missing]);
    assert.equal(r.code, 2);
    assert.ok(r.err.includes(`--tls-key ${missing}: No such file or directory`), r.err);
    r = await run(t, ['serve', '--port', '0', '--tls-cert', path.join(TLS, 'cert.pem')]);
    assert.equal(r.code, 2);
    assert.match(r.err, /--tls-cert and --tls-key go together/);
  });

  test('a TLS file that is not PEM is named with its path (status 1)', { timeout: 15000 }, async (t) => {
    const notPem = path.join(ROOT, 'VERSION');
    const r = await run(t, ['serve', '--port', '0', '--tls-cert', notPem, '--tls-key', path.join(TLS, 'key.pem')]);
    assert.equal(r.code, 1);
    assert.ok(r.err.includes(`cannot load the certificate ${notPem}`), r.err);
    assert.match(r.err, /cannot listen on wss:\/\/127\.0\.0\.1:0\/primus/);
  });

  test('connect --ca-file with a missing file: the path named, exit 1, no hang', { timeout: 15000 }, async (t) => {
    const missing = path.join(os.tmpdir(), `weft-missing-${process.pid}.pem`);
    const r = await run(t, ['connect', 'wss://127.0.0.1:1/primus', '--ca-file', missing]);
    assert.equal(r.code, 1, r.err);
    assert.ok(r.err.includes(`cannot load the trusted certificates ${missing}: no such file or directory`), r.err);
  });

  test('a port in use: status 1, the URL and the cause named', { timeout: 15000 }, async (t) => {
    const taken = net.createServer().listen(0, '127.0.0.1');
    t.after(() => taken.close());
    await new Promise((resolve) => taken.once('listening', resolve));
    const { port } = taken.address();
    const r = await run(t, ['serve', '--port', String(port)]);
    assert.equal(r.code, 1);
    assert.ok(r.err.includes(`cannot listen on ws://127.0.0.1:${port}/primus: address already in use`), r.err);
  });

  test('connect to a bad URL: status 2, the URL named', { timeout: 10000 }, async (t) => {
    const r = await run(t, ['connect', 'ftp://127.0.0.1/x']);
    assert.equal(r.code, 2);
    assert.match(r.err, /ftp:\/\/127\.0\.0\.1\/x: /);
  });
});

describe('make run PORT=…', { skip: CLI ? false : 'WEFT_CLI not set' }, () => {
  test('builds quietly, serves the chat on PORT, and the last line is its URL', { timeout: 120000 }, async (t) => {
    const port = await freePort();
    const env = { ...process.env };
    for (const k of ['MAKEFLAGS', 'MAKELEVEL', 'MFLAGS']) delete env[k];
    // Its own process group: make and the server it starts end together.
    const child = spawn('make', ['run', `PORT=${port}`], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const stop = () => { try { process.kill(-child.pid, 'SIGTERM'); } catch (e) { /* gone */ } };
    t.after(stop);
    const lines = [];
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    const url = `http://127.0.0.1:${port}/`;
    await h.withTimeout(new Promise((resolve) => {
      readline.createInterface({ input: child.stdout }).on('line', (line) => {
        lines.push(line);
        if (line.includes(url)) resolve();
      });
    }), 110000, `make run to print ${url} (so far: ${JSON.stringify(lines)} ${err})`);
    assert.deepEqual(lines, [`listening on ws://127.0.0.1:${port}/primus`, `serving examples/chat at ${url}`]);
    const page = await h.httpRequest(url);
    assert.equal(page.status, 200);
    assert.match(page.body, /<html/i);
    const exited = new Promise((resolve) => child.on('exit', resolve));
    stop();
    await h.withTimeout(exited, 10000, 'make run to end on SIGTERM');
  });
});
