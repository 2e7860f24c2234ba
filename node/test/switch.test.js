'use strict';
// The one-line switch: examples/switch/primus-app.js (Primus from npm) and
// examples/switch/weft-app.js (the same file requiring 'weft') pass the same
// test with the npm Primus client.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { once, plain, waitUntil, primusClient, HOST } = require('./helpers');

const dir = path.join(__dirname, '..', 'examples', 'switch');

test('the two apps differ in the require line only', () => {
  const a = fs.readFileSync(path.join(dir, 'primus-app.js'), 'utf8').split('\n');
  const b = fs.readFileSync(path.join(dir, 'weft-app.js'), 'utf8').split('\n');
  assert.equal(a.length, b.length);
  const diff = a.map((line, i) => [line, b[i]]).filter(([x, y]) => x !== y);
  assert.deepEqual(diff, [["const Primus = require('primus');", "const Primus = require('weft');"]]);
});

for (const [app, transformer] of [['primus-app.js', 'websockets'], ['weft-app.js', 'websockets'],
  ['primus-app.js', 'engine.io'], ['weft-app.js', 'engine.io']]) {
  test(`chat app on ${app} (${transformer}) with the npm Primus client`, async (t) => {
    // '0' (a string): Primus's create-server takes a numeric 0 for "default
    // port 443"; the string still means "any free port" to both.
    const primus = require(path.join(dir, app))('0', HOST, transformer);
    t.after(() => new Promise((resolve) => primus.destroy({ timeout: 100 }, resolve)));
    if (!primus.server.listening) await once(primus.server, 'listening');
    const url = `http://${HOST}:${primus.server.address().port}`;

    const alice = primusClient(t, `${url}?nick=alice`, { transformer });
    const aliceGot = [];
    alice.on('data', (d) => aliceGot.push(plain(d)));
    await once(alice, 'open');
    await waitUntil(() => aliceGot.length === 1, 2000, 'alice joined');

    const bob = primusClient(t, `${url}?nick=bob`, { transformer });
    const bobGot = [];
    bob.on('data', (d) => bobGot.push(plain(d)));
    await once(bob, 'open');
    await waitUntil(() => aliceGot.length === 2 && bobGot.length === 1, 2000, 'bob joined');

    bob.write('  hello  ');
    await waitUntil(() => aliceGot.length === 3 && bobGot.length === 2, 2000, 'broadcast');
    alice.write('who');
    await waitUntil(() => aliceGot.length === 4, 2000, 'who');

    const mallory = primusClient(t, `${url}?nick=mallory`, { transformer });
    const refused = await once(mallory, 'error');
    assert.ok(refused);

    const end = once(bob, 'end');
    bob.write('bye');
    await end;
    await waitUntil(() => aliceGot.length === 5, 2000, 'bob left');

    assert.deepEqual(aliceGot, [
      { joined: 'alice' },
      { joined: 'bob' },
      { from: 'bob', text: 'hello' },
      { online: ['alice', 'bob'] },
      { left: 'bob' }
    ]);
    assert.deepEqual(bobGot, [{ joined: 'bob' }, { from: 'bob', text: 'hello' }, { goodbye: 'bob' }]);
  });
}
