'use strict';
// Option objects: an unknown key throws a TypeError naming it (with the
// nearest known name), before anything listens or connects.
const test = require('node:test');
const assert = require('node:assert/strict');
const weft = require('..');

test('Server: a misspelt option throws, naming it and the option meant', () => {
  assert.throws(() => new weft.Server({ prot: 9999, host: '127.0.0.1' }),
    { name: 'TypeError', message: 'unknown Server option "prot" (did you mean "port"?)' });
  assert.throws(() => weft.createServer({ port: 0, pingIntervall: 5 }), /unknown Server option "pingIntervall" \(did you mean "pingInterval"\?\)/);
  assert.throws(() => new weft.Server({ port: 0, zzzzzzzz: 1 }), /unknown Server option "zzzzzzzz" \(known: port, host,/);
  assert.throws(() => new weft.Server(5), /Server options must be an object, got number/);
});

test('Client, connect and createSocket: a misspelt option throws', () => {
  assert.throws(() => new weft.Client('ws://127.0.0.1:1/primus', { retrys: 1 }), /unknown Client option "retrys"/);
  assert.throws(() => weft.connect('ws://127.0.0.1:1/primus', { reconect: {} }),
    { name: 'TypeError', message: 'unknown Client option "reconect" (did you mean "reconnect"?)' });
  assert.throws(() => weft.createSocket({ parsr: 'json' }), /unknown Client option "parsr" \(did you mean "parser"\?\)/);
  const Socket = weft.createSocket({ parser: 'json', manual: true });
  assert.throws(() => new Socket('ws://127.0.0.1:1/primus', { timeot: 5 }), /unknown Client option "timeot"/);
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
