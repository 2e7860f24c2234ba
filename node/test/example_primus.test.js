'use strict';
// examples/primus-emitter (issue #22): a Primus app with primus-emitter and a
// custom parser object runs on weft with only require('primus') changed to
// require('weft'). Each combination of the unchanged files (npm primus) and
// the changed ones (weft) runs server.js and client.js as the example's
// users do, and the client's lines must be the same; so must a browser's
// (the client weft serves at /primus/primus.js, fixtures/library_client.js).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const readline = require('node:readline');
const WebSocket = require('ws');
const { weft, once, withTimeout, ROOT } = require('./helpers');

const EXAMPLE = path.join(ROOT, '..', 'examples', 'primus-emitter');
const EXPECTED = ['welcome: bienvenue à bord ✓', 'greet: héllo wörld', 'sum: 6.5', 'answered: ÇA VA!'];

// The example's files with the require swapped, in a folder where `weft` is this package.
function weftCopy(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-example-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.symlinkSync(ROOT, path.join(dir, 'weft'));
  for (const f of ['server.js', 'client.js', 'parser.js']) {
    const src = fs.readFileSync(path.join(EXAMPLE, f), 'utf-8');
    const out = src.replace("require('primus')", "require('weft')");
    const changed = out.split('\n').filter((l, i) => l !== src.split('\n')[i]);
    assert.equal(changed.length, f === 'parser.js' ? 0 : 1, `${f}: one line changes`);
    fs.writeFileSync(path.join(dir, f), out);
  }
  return dir;
}

function run(t, dir, file, args) {
  const child = spawn(process.execPath, [path.join(dir, file), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: Object.assign({}, process.env, { NODE_PATH: [dir, path.join(ROOT, 'node_modules')].join(path.delimiter) })
  });
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  const lines = [];
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  readline.createInterface({ input: child.stdout }).on('line', (l) => lines.push(l));
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, lines, exited, stderr: () => stderr };
}

async function serve(t, dir) {
  const s = run(t, dir, 'server.js', ['0']);
  await withTimeout((async () => { while (!s.lines.length) await new Promise((r) => setTimeout(r, 20)); })(), 10000, 'server listening');
  const m = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(s.lines[0]);
  assert.ok(m, s.lines[0]);
  return { url: m[1], s };
}

async function clientLines(t, dir, url) {
  const c = run(t, dir, 'client.js', [url]);
  const code = await withTimeout(c.exited, 15000, 'client done');
  assert.equal(code, 0, c.stderr());
  return c.lines;
}

const combos = [
  ['primus server, primus client (the example as written)', false, false],
  ['weft server, npm primus client', true, false],
  ['weft server, weft client', true, true],
  ['primus server, weft client', false, true]
];
for (const [name, weftServer, weftClient] of combos) {
  test(`examples/primus-emitter: ${name}`, { timeout: 40000 }, async (t) => {
    const copy = weftCopy(t);
    const { url, s } = await serve(t, weftServer ? copy : EXAMPLE);
    assert.deepEqual(await clientLines(t, weftClient ? copy : EXAMPLE, url), EXPECTED);
    // The application's own routes still answer on the same port.
    const res = await fetch(`${url}/hello`);
    assert.equal(await res.text(), 'the application answers /hello\n');
    s.child.kill('SIGTERM');
    assert.equal(await withTimeout(s.exited, 5000, 'server exit'), 0, s.stderr());
  });
}

test('examples/primus-emitter: weft server, the client it serves at /primus/primus.js (library())', { timeout: 40000 }, async (t) => {
  const copy = weftCopy(t);
  const { url, s } = await serve(t, copy);
  const c = run(t, path.join(ROOT, 'test', 'fixtures'), 'library_client.js', [url, path.join(EXAMPLE, 'client.js')]);
  assert.equal(await withTimeout(c.exited, 15000, 'library client done'), 0, c.stderr());
  assert.deepEqual(c.lines, EXPECTED);
  s.child.kill('SIGTERM');
  assert.equal(await withTimeout(s.exited, 5000, 'server exit'), 0, s.stderr());
});

test('a parser object: the frames on the wire are its encoding, pings included', { timeout: 20000 }, async (t) => {
  const parser = require(path.join(EXAMPLE, 'parser.js'));
  const server = new weft.Server({ port: 0, host: '127.0.0.1', parser, pingInterval: 100 });
  t.after(() => server.destroy());
  assert.equal(server.parser, parser);
  assert.equal(server.encoder, parser.encoder);
  const got = [];
  server.on('connection', (spark) => {
    spark.on('data', (d) => {
      got.push(d);
      spark.write({ echo: d });
    });
  });
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/primus/?_primuscb=x`);
  t.after(() => ws.terminate());
  const frames = [];
  ws.on('message', (m, binary) => {
    frames.push([String(m), binary]);
    // Answered as a Primus client would (so the spark stays however slow the machine).
    const ping = /^"primus::ping::(\d+)"$/.exec(String(m));
    if (ping) ws.send(`"primus::pong::${ping[1]}"`);
  });
  await once(ws, 'open');
  ws.send('{"caf\\u00e9":"\\u2713"}');
  await withTimeout((async () => {
    while (!frames.some(([f]) => f.startsWith('{')) || !frames.some(([f]) => f.includes('primus::ping::'))) {
      await new Promise((r) => setTimeout(r, 20));
    }
  })(), 5000, 'echo and a ping');
  assert.deepEqual(got, [{ 'café': '✓' }]);
  const echo = frames.find(([f]) => f.startsWith('{'));
  assert.deepEqual(echo, ['{"echo":{"caf\\u00e9":"\\u2713"}}', false]);
  assert.ok(frames.every(([f]) => /^[\x20-\x7e]*$/.test(f)), 'every frame is ASCII');
  // A frame the decoder refuses is an error event of the parser's kind; the spark stays.
  const errors = [];
  server.on('error', (err) => errors.push(err));
  ws.send('{"raw":"é"}');
  ws.send('"after"');
  await withTimeout((async () => { while (got.length < 2) await new Promise((r) => setTimeout(r, 20)); })(), 5000, 'after');
  assert.deepEqual(got, [{ 'café': '✓' }, 'after']);
  assert.equal(errors.length, 1);
  assert.match(errors[0].message, /custom/);
});

test('a parser object that is not one, or does not call back, is refused', async (t) => {
  assert.throws(() => new weft.Server({ port: 0, parser: function () {} }), TypeError);
  assert.throws(() => new weft.Server({ port: 0, parser: { encoder() {} } }), TypeError);
  assert.throws(() => weft.createSocket({ parser: { decoder() {} } }), TypeError);
  const late = { encoder(data, fn) { setImmediate(fn, null, JSON.stringify(data)); }, decoder(data, fn) { fn(null, JSON.parse(data)); } };
  const server = new weft.Server({ port: 0, host: '127.0.0.1', parser: late, pingInterval: false });
  t.after(() => server.destroy());
  const conn = new Promise((resolve) => server.once('connection', resolve));
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/primus/?_primuscb=x`);
  t.after(() => ws.terminate());
  await once(ws, 'open');
  const spark = await withTimeout(conn, 5000, 'connection');
  assert.throws(() => spark.write('x'), (err) => err.code === 'ETYPE');
});
