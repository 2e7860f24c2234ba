'use strict';
// Option objects: a key weft does not know is kept in options (a plugin's,
// as Primus keeps it), a warning naming the option meant when it is close to
// one, a TypeError with `strict: true`; known keys are checked, before
// anything listens or connects.
const test = require('node:test');
const assert = require('node:assert/strict');
const weft = require('..');

// The WEFT_UNKNOWN_OPTION warnings fn emits (process 'warning' events).
async function warnings(fn) {
  const got = [];
  const on = (w) => { if (w.code === 'WEFT_UNKNOWN_OPTION') got.push(w.message); };
  process.on('warning', on);
  try {
    await fn();
    await new Promise((resolve) => setImmediate(resolve)); // emitWarning reports on the next tick
  } finally {
    process.removeListener('warning', on);
  }
  return got;
}

test('Server: an unknown option is kept for plugins; a misspelt one warns, naming the option meant', async () => {
  let seen;
  const got = await warnings(async () => {
    const server = new weft.Server({ port: 0, host: '127.0.0.1', foo: 'bar', prot: 9999, pingInterval: false });
    server.plugin('reads', { server(primus, options) { seen = options; } });
    assert.equal(seen, server.options, 'a plugin gets the options object');
    assert.equal(seen.foo, 'bar');
    assert.equal(seen.prot, 9999);
    assert.ok(server.port > 0 && server.port !== 9999, 'the core never sees them');
    await new Promise((resolve) => server.destroy(resolve));
  });
  assert.deepEqual(got, ['unknown Server option "prot" (did you mean "port"?); kept in options for plugins, not used by weft']);
});

test('Server: strict: true makes an unknown option a TypeError; known options keep their checks', () => {
  assert.throws(() => new weft.Server({ prot: 9999, host: '127.0.0.1', strict: true }),
    { name: 'TypeError', message: 'unknown Server option "prot" (did you mean "port"?)' });
  assert.throws(() => weft.createServer({ port: 0, pingIntervall: 5, strict: true }), /unknown Server option "pingIntervall" \(did you mean "pingInterval"\?\)/);
  assert.throws(() => new weft.Server({ port: 0, zzzzzzzz: 1, strict: true }), /unknown Server option "zzzzzzzz" \(known: port, host,/);
  assert.throws(() => new weft.Server({ port: 0, strict: 'yes' }), /Server option "strict" must be a boolean \(got "yes"\)/);
  assert.throws(() => new weft.Server({ port: 0, foo: 1, pingInterval: 'often' }), { name: 'TypeError', code: 'ETYPE' });
  assert.throws(() => new weft.Server(5), /Server options must be an object, got number/);
});

test('Client, connect and createSocket: unknown options kept, misspelt ones warn, strict: true throws', async () => {
  const got = await warnings(() => {
    const client = new weft.Client('ws://127.0.0.1:1/primus', { manual: true, retrys: 1, emitterTimeout: 5 });
    assert.equal(client.options.emitterTimeout, 5);
    const Socket = weft.createSocket({ parser: 'json', manual: true, parsre: 1 });
    new Socket('ws://127.0.0.1:1/primus', { timeot: 5 }).destroy();
    client.destroy();
  });
  assert.deepEqual(got.map((m) => m.replace(/;.*/, '')), ['unknown Client option "retrys" (did you mean "retries"?)',
    'unknown Client option "parsre" (did you mean "parser"?)',
    'unknown Client option "timeot" (did you mean "timeout"?)']);
  assert.throws(() => weft.connect('ws://127.0.0.1:1/primus', { reconect: {}, strict: true }),
    { name: 'TypeError', message: 'unknown Client option "reconect" (did you mean "reconnect"?)' });
  assert.throws(() => weft.createSocket({ parsr: 'json', strict: true }), /unknown Client option "parsr" \(did you mean "parser"\?\)/);
  assert.throws(() => weft.connect('ws://127.0.0.1:1/primus', { manual: true, extra: 1, timeout: 'soon' }), TypeError);
});

test("Primus's no-op server options are accepted", async () => {
  const server = new weft.Server({ port: 0, host: '127.0.0.1', iknowhttpsisbetter: true,
    iknowclusterwillbreakconnections: true, global: 'Primus' });
  assert.ok(server.port > 0);
  await new Promise((resolve) => server.destroy(resolve));
});

test("index.d.ts's option interfaces are the core's tables (scripts/options-dts.js --check)", () => {
  const fs = require('node:fs');
  const path = require('node:path');
  const { generate } = require('../scripts/options-dts');
  const file = path.join(__dirname, '..', 'index.d.ts');
  const text = fs.readFileSync(file, 'utf8');
  assert.equal(generate(text), text, 'run `node scripts/options-dts.js` in node/');
  // Every row of both tables is a member of its interface, under its Node name.
  for (const [kind, rows] of [['Server', weft.serverOptions()], ['Client', weft.clientOptions()]]) {
    const body = text.slice(text.indexOf(`export interface ${kind}Options {`));
    const members = body.slice(0, body.indexOf('\n}\n'));
    for (const row of rows) assert.match(members, new RegExp(`\\n  ${row.name}\\?: `), `${kind}Options.${row.name}`);
  }
  // A table row the file lacks is found: drop one member and regenerate.
  const dropped = text.replace(/\n {2}maxQueue\?: [^\n]*/, '');
  assert.notEqual(dropped, text);
  assert.equal(generate(dropped), text);
  // Without the markers the generator refuses.
  assert.throws(() => generate('export interface ServerOptions {}'), /markers of ServerOptions are missing/);
});
