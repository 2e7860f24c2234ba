'use strict';
// JavaScript values <-> weft values, through the parsers (no sockets needed
// for the conversions themselves; the socket paths are in the other files).
const test = require('node:test');
const assert = require('node:assert/strict');
const { weft } = require('./helpers');

const rt = (parser, v) => weft.decode(parser, weft.encode(parser, v));

test('json: objects, arrays, strings, numbers, booleans, null', () => {
  const v = { s: 'é ✓ \u2028', n: -12, f: 0.1, t: true, f2: false, z: null, a: [1, [2, [3]]], o: {} };
  assert.deepEqual(rt('json', v), v);
  assert.equal(weft.encode('json', 'x\u2028').toString(), '"x\\u2028"');
});

test('numbers: integers exact up to 2^53, BigInt for int64 beyond, -0 and floats', () => {
  assert.equal(rt('json', 2 ** 53), 2 ** 53);
  assert.equal(rt('json', -(2 ** 53)), -(2 ** 53));
  assert.equal(rt('json', 2n ** 62n), 2n ** 62n);
  assert.equal(rt('msgpack', -(2n ** 63n)), -(2n ** 63n));
  assert.equal(rt('msgpack', 5n), 5);
  assert.equal(rt('json', 1e300), 1e300);
  assert.equal(rt('json', 1.5), 1.5);
  assert.ok(Object.is(rt('msgpack', -0), -0));
  // NaN and ±Infinity stay doubles where the encoding carries them.
  assert.deepEqual(rt('msgpack', [NaN, Infinity, -Infinity]), [NaN, Infinity, -Infinity]);
});

test('JSON semantics for what JSON cannot carry', () => {
  assert.deepEqual(rt('json', { u: undefined, f() {}, n: NaN, i: Infinity, a: [undefined, () => 1] }),
    { n: null, i: null, a: [null, null] });
  assert.equal(rt('json', new Date(0)), '1970-01-01T00:00:00.000Z');
  assert.equal(rt('json', undefined), null);
});

test('binary: Buffer, typed arrays, DataView and ArrayBuffer become Buffers', () => {
  assert.deepEqual(rt('msgpack', Buffer.from([1, 2, 3])), Buffer.from([1, 2, 3]));
  assert.deepEqual(rt('msgpack', new Uint8Array([4, 5])), Buffer.from([4, 5]));
  assert.deepEqual(rt('msgpack', new Float64Array([1.5])), Buffer.from(new Float64Array([1.5]).buffer));
  assert.deepEqual(rt('msgpack', new DataView(new ArrayBuffer(2))), Buffer.alloc(2));
  assert.deepEqual(rt('msgpack', new ArrayBuffer(3)), Buffer.alloc(3));
  const sub = Buffer.from([9, 8, 7, 6]).subarray(1, 3);
  assert.deepEqual(rt('msgpack', { b: sub }), { b: Buffer.from([8, 7]) });
});

test('msgpack maps with non-string keys become object keys', () => {
  // {1: "a"} as msgpack: fixmap(1), positive fixint 1, fixstr "a"
  assert.deepEqual(weft.decode('msgpack', Buffer.from([0x81, 0x01, 0xa1, 0x61])), { 1: 'a' });
});

test('bad input: cyclic, too deep, BigInt out of range, unknown parser, malformed data', () => {
  const cyclic = [];
  cyclic.push(cyclic);
  assert.throws(() => weft.encode('json', cyclic), RangeError);
  let deep = 0;
  for (let i = 0; i < 600; i++) deep = [deep];
  assert.throws(() => weft.encode('json', deep), RangeError);
  assert.throws(() => weft.encode('json', 2n ** 63n), RangeError);
  assert.throws(() => weft.encode('yaml', 1), { code: 'EINVAL' });
  assert.throws(() => weft.decode('json', '{"a":'), { code: 'EPARSE' });
  assert.throws(() => weft.decode('json', Buffer.from([0x22, 0xff, 0x22])), { code: 'EUTF8' });
  assert.throws(() => weft.decode('msgpack', Buffer.from([0xc1])), { code: 'EPARSE' });
  assert.throws(() => weft.decode('json', 42), TypeError);
  assert.throws(() => weft.encode(42, 1), TypeError);
});
