'use strict';
//
// `weft serve --listen http://H:P/vibe --transformer vibe --mode echo`
// (issue #21): the reference Vibe client over ws, httpstream and
// httplongpoll gets each event back with its name and data; an event that
// asks for a reply is answered with its data (resolved) and echoed as a
// plain event, as echo mode does for every framing (issue #20). `weft connect
// --transformer vibe --transport T` over each transport (decision #32).
//
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const readline = require('node:readline');
const { test } = require('node:test');

require('./node20');
const vibe = require('vibe-protocol');

const CLI = process.env.WEFT_CLI;

test('weft serve --transformer vibe --mode echo echoes events with their names and data', { skip: CLI ? false : 'WEFT_CLI not set', timeout: 20000 }, async (t) => {
  const child = spawn(CLI, ['serve', '--listen', 'http://127.0.0.1:0/vibe', '--transformer', 'vibe', '--mode', 'echo'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  const line = await new Promise((resolve) => readline.createInterface({ input: child.stdout })
    .on('line', (l) => { if (l.startsWith('listening on ')) resolve(l); }));
  const port = Number(/:(\d+)\/vibe/.exec(line)[1]);
  const uris = { ws: `ws://127.0.0.1:${port}/vibe`, httpstream: `http://127.0.0.1:${port}/vibe?transport=stream`,
    httplongpoll: `http://127.0.0.1:${port}/vibe?transport=longpoll` };
  for (const [transport, uri] of Object.entries(uris)) {
    const socket = vibe.open(uri).on('error', () => {});
    await new Promise((resolve) => socket.once('open', resolve));
    const data = { transport, text: '라면', list: [1, 2.5, null, true] };
    socket.send('greet', data);
    assert.deepEqual(await new Promise((resolve) => socket.once('greet', (d) => resolve(d))), data, transport);
    socket.send('bare');
    assert.equal(await new Promise((resolve) => socket.once('bare', (d) => resolve(d === undefined ? 'none' : d))), 'none', transport);
    const answered = new Promise((resolve, reject) => socket.send('ask', 42, resolve, reject));
    const echoed = new Promise((resolve) => socket.once('ask', (d, r) => resolve([d, r])));
    assert.equal(await answered, 42, `${transport}: the reply resolves with the data`);
    const [value, reply] = await echoed;
    assert.equal(value, 42, transport);
    assert.equal(reply, undefined, `${transport}: the echoed event asks for nothing`);
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.close();
    await closed;
  }
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.kill('SIGTERM');
  assert.deepEqual(await exited, { code: 0, signal: null });
});

test('weft connect --transformer vibe --transport: each transport by the option; a contradicted URL is bad usage', { skip: CLI ? false : 'WEFT_CLI not set', timeout: 20000 }, async (t) => {
  const server = spawn(CLI, ['serve', '--listen', 'http://127.0.0.1:0/vibe', '--transformer', 'vibe', '--mode', 'echo'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => { if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL'); });
  const line = await new Promise((resolve) => readline.createInterface({ input: server.stdout })
    .on('line', (l) => { if (l.startsWith('listening on ')) resolve(l); }));
  const url = `http://127.0.0.1:${/:(\d+)\/vibe/.exec(line)[1]}/vibe`;
  const run = (args, input) => new Promise((resolve) => {
    const c = spawn(CLI, ['connect', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) c.stdin.end('/end\n'); // the echo came back
    });
    c.stderr.on('data', (d) => (err += d));
    c.on('exit', (code) => resolve({ code, out, err }));
    if (input) c.stdin.write(input);
    else c.stdin.end();
  });
  for (const transport of ['ws', 'httpstream', 'httplongpoll']) {
    const r = await run([url, '--transformer', 'vibe', '--transport', transport], `{"over":"${transport}"}\n`);
    // A plain write is the Vibe event "message", echoed; without the emitter the client prints its packet.
    assert.deepEqual(JSON.parse(r.out.split('\n')[0]), { type: 0, data: ['message', { over: transport }] }, transport);
    assert.equal(r.code, 0, transport);
  }
  const bad = await run([`${url}?transport=longpoll`, '--transformer', 'vibe', '--transport', 'ws']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /bad option --transport ws: .*the URL's transport=/);
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGTERM');
  await exited;
});
