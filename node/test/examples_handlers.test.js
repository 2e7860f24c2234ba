'use strict';
// examples/handlers/app.js (issue #21): one set of handlers serves the npm
// Primus client with primus-emitter on websockets and on engine.io, npm
// fast-tcp 3.3.2's client (from tests/interop/, driven by tests/vibe/) on tcp://, and the
// reference Vibe client (vibe-protocol 3.0.0-Alpha9, from tests/vibe/) over
// ws, httpstream and httplongpoll: acks and replies resolved and rejected
// both ways for each (fast-tcp: a rejection as the ack's data).
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');
const readline = require('node:readline');
const { Primus, once, plain, withTimeout, ROOT } = require('./helpers');

const VIBE = path.join(ROOT, '..', 'tests', 'vibe');
const APP = path.join(ROOT, '..', 'examples', 'handlers', 'app.js');

async function startApp(t) {
  const child = spawn(process.execPath, [APP, '0'], { stdio: ['ignore', 'pipe', 'inherit'],
    env: Object.assign({}, process.env, { WEFT_NODE_MODULE: ROOT }) });
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  const urls = [];
  await withTimeout(new Promise((resolve) => readline.createInterface({ input: child.stdout }).on('line', (l) => {
    if (l.startsWith('listening on ')) urls.push(l.slice(13));
    if (urls.length === 3) resolve();
  })), 5000, 'the app listening');
  return { child, urls };
}

test('one handler file serves Primus (websockets, engine.io), fast-tcp and Vibe peers with acks', { timeout: 30000 }, async (t) => {
  const app = await startApp(t);
  const [primusUrl, tcpUrl, vibeUrl] = app.urls;
  assert.match(tcpUrl, /^tcp:\/\//);
  assert.match(vibeUrl, /\/vibe$/);

  for (const transformer of ['websockets', 'engine.io']) {
    const Socket = Primus.createSocket({ transformer, parser: 'json', plugin: { emitter: require('primus-emitter') } });
    const c = new Socket(primusUrl.replace(/^ws/, 'http'), { reconnect: { retries: 0 }, strategy: false });
    c.on('error', () => {});
    t.after(() => c.end());
    await once(c, 'open');
    const call = (name, arg) => withTimeout(new Promise((resolve) => c.send(name, arg, (err, r) => resolve([err, r]))), 3000, name);
    assert.deepEqual(plain(await call('sum', [1, 2, 3.5])), [null, 6.5], transformer);
    const [err] = await call('sum', 'x');
    assert.ok(err, `${transformer}: rejected`);
    c.on('question', (q, fn) => fn(null, q * 2));
    const answered = new Promise((resolve) => c.once('answered', resolve));
    c.send('ask', 21);
    assert.deepEqual(plain(await withTimeout(answered, 3000, 'answered')), { resolved: 42 }, transformer);
  }

  const { vibeChecks, EXPECTED, fastTcpChecks, FAST_TCP_EXPECTED } = require(path.join(VIBE, 'handlers_client'));
  assert.deepEqual(await fastTcpChecks(tcpUrl), FAST_TCP_EXPECTED, 'fast-tcp');

  const got = await vibeChecks(vibeUrl);
  for (const transport of ['ws', 'httpstream', 'httplongpoll']) assert.deepEqual(got[transport], EXPECTED, transport);
  const exited = new Promise((resolve) => app.child.once('exit', (code) => resolve(code)));
  app.child.kill('SIGTERM');
  assert.equal(await exited, 0);
});
