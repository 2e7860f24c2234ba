'use strict';
// Transformers by name, Unix-domain sockets (ws+unix://SOCKET:PATH), several
// listeners, and a server at "/": real sockets on 127.0.0.1 and in a temp
// folder, against weft's own client, the npm `ws` client and the npm Primus
// client.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const WebSocket = require('ws');
const { weft, once, onceArgs, plain, waitUntil, primusClient, delay, HOST } = require('./helpers');

/** A temp folder (mkdtemp), removed after the test. */
function tmpdir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-node-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A weft server with these options as they are, destroyed after the test. */
function server(t, options) {
  const s = new weft.Server(options);
  t.after(() => new Promise((resolve) => s.destroy({ timeout: 200 }, resolve)));
  return s;
}

function echo(s) {
  s.on('connection', (spark) => spark.on('data', (d) => spark.write(d)));
  return s;
}

/** weft's client, ended after the test. */
function client(t, url, options) {
  const c = weft.connect(url, Object.assign({ reconnect: { retries: 0 }, strategy: false }, options));
  c.on('error', () => {});
  t.after(() => c.destroy());
  return c;
}

/** The npm `ws` client, terminated after the test. */
function wsClient(t, url) {
  const ws = new WebSocket(url);
  t.after(() => ws.terminate());
  return ws;
}

/** Sends one text message over a `ws` socket and resolves with the answer's text. */
async function wsEcho(ws, text) {
  ws.send(text);
  return (await once(ws, 'message')).toString();
}

const available = () => `(available: ${weft.transformers().join(', ')})`;

test('transformers() lists the core\'s names; the transformer is chosen by name on server and client', async (t) => {
  const names = weft.transformers();
  assert.ok(Array.isArray(names) && names.length > 0);
  for (const n of names) assert.equal(typeof n, 'string');
  // The default (Primus's) is one of them.
  assert.ok(names.includes('websockets'), names.join(','));
  names.push('mutated');
  assert.ok(!weft.transformers().includes('mutated'), 'a fresh array each call');

  // Any case, as Primus's option.
  const s = echo(server(t, { port: 0, host: HOST, transformer: 'WebSockets' }));
  const c = client(t, s.url, { transformer: 'websockets' });
  await once(c, 'open');
  c.write({ over: 'websockets' });
  assert.deepEqual(await once(c, 'data'), { over: 'websockets' });
  const p = primusClient(t, s.url);
  await once(p, 'open');
  p.write('primus too');
  assert.equal(await once(p, 'data'), 'primus too');
  const Socket = weft.createSocket({ transformer: 'websockets' });
  const c2 = new Socket(s.url, { reconnect: { retries: 0 } });
  t.after(() => c2.destroy());
  await once(c2, 'open');
});

test('bad input: an unknown transformer throws on server and client, naming the ones there are', (t) => {
  const dir = tmpdir(t);
  const sock = path.join(dir, 't.sock');
  const unknown = { code: 'EUNSUPPORTED', message: `unknown transformer 'sockjs' ${available()}` };
  assert.throws(() => new weft.Server({ listen: `ws+unix://${sock}:/primus`, transformer: 'sockjs' }), unknown);
  assert.equal(fs.existsSync(sock), false, 'nothing listened');
  assert.throws(() => new weft.Server({ port: 0, host: HOST, transformer: 'faye' }),
    { code: 'EUNSUPPORTED', message: `unknown transformer 'faye' ${available()}` });
  assert.throws(() => weft.connect(`ws://${HOST}:1/primus`, { transformer: 'sockjs', manual: true }), unknown);
  assert.throws(() => new weft.Client(`ws+unix://${sock}:/primus`, { transformer: 'sockjs', manual: true }), unknown);
  assert.throws(() => weft.createSocket({ transformer: 'sockjs' }), unknown);
  const Socket = weft.createSocket({ parser: 'json' });
  assert.throws(() => new Socket(`ws://${HOST}:1/primus`, { transformer: 'sockjs', manual: true }), unknown);
  // Not a name at all.
  assert.throws(() => new weft.Server({ port: 0, host: HOST, transformer: 42 }), TypeError);
  assert.throws(() => weft.connect(`ws://${HOST}:1/primus`, { transformer: {}, manual: true }), TypeError);
  assert.throws(() => weft.createSocket({ transformer: null }), TypeError);
});

test('Unix socket: a weft server on ws+unix, the weft client echoes over the same URL; the file is gone after close', async (t) => {
  const dir = tmpdir(t);
  const sock = path.join(dir, 'app.sock');
  const url = `ws+unix://${sock}:/primus`;
  const s = echo(new weft.Server({ listen: url }));
  t.after(() => new Promise((resolve) => s.destroy({ timeout: 200 }, resolve)));
  assert.equal(s.url, url);
  assert.deepEqual([...s.urls], [url]);
  assert.ok(Object.isFrozen(s.urls));
  assert.equal(s.port, 0);
  assert.equal(s.pathname, '/primus');
  assert.equal(s.address(), sock);
  assert.ok(fs.statSync(sock).isSocket());

  const c = client(t, url);
  const [spark] = await Promise.all([once(s, 'connection'), once(c, 'open')]);
  assert.deepEqual(spark.address, { ip: '', port: 0 });
  assert.equal(spark.headers.host, 'localhost');
  for (const v of [{ a: [1, 'two', null] }, 'text', 2.5]) {
    c.write(v);
    assert.deepEqual(await once(c, 'data'), v);
  }
  const end = once(c, 'end');
  await new Promise((resolve) => s.destroy({ timeout: 500 }, resolve));
  await end;
  assert.equal(fs.existsSync(sock), false, 'socket file removed at close');
  assert.equal(s.address(), null);
});

test('Unix socket: the npm ws client reaches a weft server at ws+unix://…:/primus (json, and the raw parser)', async (t) => {
  const dir = tmpdir(t);
  const jsonSock = path.join(dir, 'json.sock');
  const rawSock = path.join(dir, 'raw.sock');
  const js = echo(server(t, { listen: `ws+unix://${jsonSock}:/primus` }));
  const raw = echo(server(t, { listen: `ws+unix://${rawSock}:/primus`, parser: 'raw' }));

  const a = wsClient(t, `ws+unix://${jsonSock}:/primus`);
  await once(a, 'open');
  assert.deepEqual(JSON.parse(await wsEcho(a, JSON.stringify({ hello: 'unix' }))), { hello: 'unix' });
  // A Primus message is JSON: a string is a JSON string.
  assert.equal(JSON.parse(await wsEcho(a, '"primus"')), 'primus');

  const b = wsClient(t, `ws+unix://${rawSock}:/primus?x=1`);
  const [spark] = await Promise.all([once(raw, 'connection'), once(b, 'open')]);
  assert.equal(spark.query.x, '1');
  assert.equal(await wsEcho(b, 'plain text, not JSON'), 'plain text, not JSON');

  const closed = onceArgs(a, 'close');
  await new Promise((resolve) => js.destroy({ timeout: 500 }, resolve));
  await closed;
  assert.equal(fs.existsSync(jsonSock), false);
  assert.equal(fs.existsSync(rawSock), true, 'the other server still listens');
  await new Promise((resolve) => raw.destroy({ timeout: 500 }, resolve));
  assert.equal(fs.existsSync(rawSock), false);
});

test('Unix socket: unixMode sets the file\'s permissions; a Unix and a TCP listener serve at once', async (t) => {
  const dir = tmpdir(t);
  const sock = path.join(dir, 'both.sock');
  const unixUrl = `ws+unix://${sock}:/primus`;
  const s = echo(server(t, { listen: [unixUrl, `ws://${HOST}:0/primus`], unixMode: 0o640 }));
  assert.equal(fs.statSync(sock).mode & 0o777, 0o640);
  assert.equal(s.urls.length, 2);
  assert.equal(s.urls[0], unixUrl);
  const m = /^ws:\/\/127\.0\.0\.1:(\d+)\/primus$/.exec(s.urls[1]);
  assert.ok(m, s.urls[1]);
  assert.ok(Number(m[1]) > 0);
  assert.equal(s.port, 0, 'the first listener is the Unix socket');
  assert.equal(s.address(), sock);

  const overUnix = client(t, s.urls[0]);
  const overTcp = primusClient(t, s.urls[1]);
  await Promise.all([once(overUnix, 'open'), once(overTcp, 'open')]);
  await waitUntil(() => s.connected === 2, 2000, 'two sparks');
  const echoes = Promise.all([once(overUnix, 'data'), once(overTcp, 'data')]);
  overUnix.write('unix');
  overTcp.write('tcp');
  assert.deepEqual(await echoes, ['unix', 'tcp']);
  const got = Promise.all([once(overUnix, 'data'), once(overTcp, 'data')]);
  s.write({ all: true });
  assert.deepEqual(plain(await got), [{ all: true }, { all: true }]);
});

test('bad input: ws+unix URLs, listen and unixMode', async (t) => {
  const dir = tmpdir(t);
  const sock = path.join(dir, 'app.sock');
  // Malformed: no socket path, a request path without "/", a path over 107 bytes.
  for (const url of ['ws+unix://', `ws+unix://${sock}:primus`, `ws+unix://${dir}/${'s'.repeat(120)}.sock:/primus`]) {
    assert.throws(() => new weft.Server({ listen: url }), (e) => e.code === 'EURL' && e.message.includes(url), url);
    assert.throws(() => weft.connect(url, { manual: true }), { code: 'EURL' }, url);
  }
  // A folder that does not exist.
  assert.throws(() => new weft.Server({ listen: `ws+unix://${dir}/missing/app.sock:/primus` }), { code: 'ENOENT' });
  // A path where a server accepts, and a plain file, are in use (the file is left alone).
  const live = server(t, { listen: `ws+unix://${sock}:/primus` });
  assert.throws(() => new weft.Server({ listen: `ws+unix://${sock}:/primus` }), { code: 'EADDRINUSE' });
  const plainFile = path.join(dir, 'plain.sock');
  fs.writeFileSync(plainFile, 'keep me');
  assert.throws(() => new weft.Server({ listen: `ws+unix://${plainFile}:/primus` }), { code: 'EADDRINUSE' });
  assert.equal(fs.readFileSync(plainFile, 'utf8'), 'keep me');
  assert.ok(live.listening);
  // A listener that fails after another one listened: the first one's file goes too.
  const first = path.join(dir, 'first.sock');
  assert.throws(() => new weft.Server({ listen: [`ws+unix://${first}:/primus`, 'ws+unix://'] }), { code: 'EURL' });
  await waitUntil(() => !fs.existsSync(first), 2000, 'the first listener\'s socket file removed');
  // Options.
  assert.throws(() => new weft.Server({ listen: [] }), TypeError);
  assert.throws(() => new weft.Server({ listen: [42] }), TypeError);
  assert.throws(() => new weft.Server({ listen: `ws+unix://${sock}:/primus`, port: 0 }), TypeError);
  assert.throws(() => new weft.Server({ listen: `ws://${HOST}:0/`, pathname: '/x' }), TypeError);
  assert.throws(() => new weft.Server({ port: 0, host: HOST, unixMode: 0o10000 }), { name: 'RangeError', code: 'ERANGE' });
  assert.throws(() => new weft.Server({ port: 0, host: HOST, unixMode: '660' }), TypeError);
  assert.throws(() => new weft.Server({ port: 0, host: HOST, unixMode: 1.5 }), TypeError);
  // A client dialing a socket path nobody serves: an error, then the end.
  const c = weft.connect(`ws+unix://${dir}/nobody.sock:/primus`, { reconnect: { retries: 0 }, strategy: false });
  t.after(() => c.destroy());
  const err = once(c, 'error', 5000);
  const end = once(c, 'end', 5000);
  assert.ok((await err) instanceof Error);
  await end;
});

test('a server at "/": the npm ws client echoes at / and /x; Primus\'s pathname "/" is the same', async (t) => {
  const s = echo(server(t, { listen: `ws://${HOST}:0/` }));
  assert.equal(s.url, `ws://${HOST}:${s.port}/`);
  assert.equal(s.pathname, '/');
  assert.deepEqual(s.address(), { address: HOST, family: 'IPv4', port: s.port });
  for (const p of ['/', '/x', '/deeper/path?q=1']) {
    const ws = wsClient(t, `ws://${HOST}:${s.port}${p}`);
    await once(ws, 'open');
    assert.deepEqual(JSON.parse(await wsEcho(ws, JSON.stringify({ at: p }))), { at: p });
  }
  const c = client(t, s.url);
  await once(c, 'open');
  c.write('weft at /');
  assert.equal(await once(c, 'data'), 'weft at /');

  const s2 = echo(server(t, { port: 0, host: HOST, pathname: '/' }));
  assert.equal(s2.url, `ws://${HOST}:${s2.port}/`);
  const ws = wsClient(t, `ws://${HOST}:${s2.port}/x`);
  await once(ws, 'open');
  assert.equal(JSON.parse(await wsEcho(ws, '"root"')), 'root');
});

test('keptHeaders/keepUrl: the core keeps only what is named once the connection event has run; the spark keeps its copy; bad names throw', async (t) => {
  const s = echo(new weft.Server({ port: 0, host: HOST, keptHeaders: ['User-Agent'], keepUrl: false }));
  t.after(() => new Promise((resolve) => s.destroy({ timeout: 200 }, resolve)));
  const c = client(t, `ws://${HOST}:${s.port}/primus?x=1`);
  const [spark] = await Promise.all([once(s, 'connection'), once(c, 'open')]);
  assert.equal(typeof spark.headers.host, 'string');
  assert.equal(spark.query.x, '1');
  c.write('still open');
  assert.equal(await once(c, 'data'), 'still open');
  assert.throws(() => new weft.Server({ port: 0, host: HOST, keptHeaders: ['user agent'] }), /kept_headers|keptHeaders/);
  assert.throws(() => new weft.Server({ port: 0, host: HOST, keptHeaders: [''] }), /kept_headers|keptHeaders/);
  assert.throws(() => new weft.Server({ port: 0, host: HOST, keepUrl: 'no' }), TypeError);
});

test('keptHeaders over engine.io: a session trimmed after its connection event still polls, upgrades and echoes', async (t) => {
  const s = echo(new weft.Server({ port: 0, host: HOST, transformer: 'engine.io', keptHeaders: [], keepUrl: false }));
  t.after(() => new Promise((resolve) => s.destroy({ timeout: 200 }, resolve)));
  for (const websockets of [false, true]) {
    const c = primusClient(t, `http://${HOST}:${s.port}/primus?x=2`, { transformer: 'engine.io', websockets });
    const [spark] = await Promise.all([once(s, 'connection'), once(c, 'open')]);
    assert.equal(spark.query.x, '2');
    assert.equal(typeof spark.headers.host, 'string', 'the spark copied its headers at the connection event');
    for (let i = 0; i < 3; i++) {
      c.write({ i, websockets });
      assert.equal(JSON.stringify(await once(c, 'data')), JSON.stringify({ i, websockets }));
      await delay(50);
    }
    c.end();
  }
});
