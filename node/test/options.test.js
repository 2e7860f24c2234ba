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
