'use strict';
//
// Test payloads for the exact-echo test: varied types, unicode, numbers at
// the edges of their encodings, and strings sized so that the ENCODED payload
// (what travels in the WebSocket frame) hits the frame-length boundaries.
//
const msgpack = require('primus-msgpack');

/** Encoded size in bytes of a message, as the Primus client encodes it. */
function encodedSize(parser, value) {
  if (parser === 'json') return Buffer.byteLength(JSON.stringify(value), 'utf8');
  if (parser === 'msgpack') return msgpack.encode(value).length;
  throw new Error(`unknown parser ${parser}`);
}

/** An ASCII string of len chars with a position-dependent pattern. */
function filler(len, seed = 0) {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_';
  const unit = alphabet.slice(seed % alphabet.length) + alphabet.slice(0, seed % alphabet.length);
  return unit.repeat(Math.ceil(len / unit.length)).slice(0, len);
}

/**
 * A string whose encoded payload is exactly n bytes for the given parser
 * (json: n-2 ASCII chars inside quotes; msgpack: n minus the str header).
 * Throws when no string encodes to exactly n bytes.
 */
function stringOfEncodedSize(parser, n, seed = 0) {
  let len = Math.max(0, n - 2);
  for (let i = 0; i < 8; i++) {
    const s = filler(len, seed);
    const size = encodedSize(parser, s);
    if (size === n) return s;
    len -= size - n;
    if (len < 0) break;
  }
  throw new Error(`no ${parser} string encodes to exactly ${n} bytes`);
}

function nested(depth, leaf) {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 ? { ['k' + i]: v, i } : [i, v];
  return v;
}

/**
 * The message list for one parser: fixed catalog plus generated messages,
 * at least 1000 in all. Each entry is { label, value, size? }.
 */
function buildMessages(parser) {
  const out = [];
  const add = (label, value) => out.push({ label, value });
  const sized = (label, n, seed) => {
    const value = stringOfEncodedSize(parser, n, seed);
    out.push({ label: `${label} (${n} bytes encoded)`, value, size: n });
  };

  // Smallest possible payloads: 0 bytes is impossible for both parsers.
  add('smallest string', '');        // json: `""` (2 bytes), msgpack: 0xa0 (1 byte)
  add('smallest value', 0);          // 1 byte in both encodings
  // Frame-length boundaries of the encoded payload: 7-bit length up to 125,
  // 16-bit from 126 to 65535, 64-bit from 65536.
  for (const n of [124, 125, 126, 127, 65535, 65536, 65537]) sized('boundary', n, n);
  sized('1 MiB', 1024 * 1024, 7);

  // Unicode.
  add('latin', 'héllo wörld àéîõü ß');
  add('cjk', '日本語のテキスト 中文 한국어');
  add('U+2028', '\u2028');
  add('U+2029', '\u2029');
  add('U+2028/2029 inside', 'line\u2028separator\u2029paragraph');
  add('emoji', '😀');
  add('emoji sequences', '👍🏽 👨‍👩‍👧‍👦 🇳🇱 ❤️');
  add('astral', '𝄞 𠜎 🜁');
  add('control chars', 'nul\u0000 tab\t nl\n cr\r bs\b ff\f esc\u001b del\u007f');
  add('json specials', 'quote " backslash \\ slash / <script>');
  add('unicode keys', { 'ключ': 'значение', '😀': 1, '\u2028': '\u2029', '': 'empty key' });
  add('mixed unicode array', ['é', '日', '😀', '\u2028', '\u2029', '']);

  // Numbers.
  for (const n of [0, 1, -1, 31, 32, -32, -33, 127, 128, 255, 256, -128, -129,
    32767, 32768, -32768, -32769, 65535, 65536,
    2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 32 - 1, 2 ** 32,
    2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53]) add(`int ${n}`, n);
  for (const f of [1.5, -0.25, 1e300, -1e300, 0.1, 3.141592653589793, 5e-324, 2.2250738585072014e-308,
    1.7976931348623157e308, 123456.789e-3]) add(`float ${f}`, f);

  // Booleans, null, containers.
  add('true', true);
  add('false', false);
  add('null', null);
  add('empty object', {});
  add('empty array', []);
  add('nested empties', [[], {}, [[]], [{}], { a: [] }, { a: {} }]);
  add('nested object', { a: { b: { c: [1, [2, [3, { d: null, e: [true, false] }]]] } } });
  add('deep nesting', nested(20, 'leaf'));
  add('mixed array', [1, -1, 1.5, 'two', true, false, null, { x: [] }, [0]]);
  const wide = {};
  for (let i = 0; i < 100; i++) wide[`key${i}`] = i % 3 ? `v${i}` : i;
  add('wide object', wide);
  add('long array', Array.from({ length: 1000 }, (_, i) => i * (i % 2 ? -1 : 1)));
  add('string that looks like a number', '12345');
  add('string that looks like json', '{"a":1}');
  add('test-command-like but not a map', ['__weft_test', 'end']);

  // Generated messages to reach >= 1000 in all.
  const target = out.length + 1000;
  for (let i = 0; out.length < target; i++) {
    switch (i % 10) {
      case 0: add(`gen obj ${i}`, { i, s: `msg-${i}`, ok: i % 3 === 0, none: null }); break;
      case 1: add(`gen array ${i}`, [i, -i, i / 4, `é${i}`, [i % 7, { n: i }]]); break;
      case 2: add(`gen string ${i}`, `string ${i} ${'😀'.repeat(i % 5)} ${'\u2028'.repeat(i % 2)}`); break;
      case 3: add(`gen int ${i}`, (i % 2 ? -1 : 1) * i * 1000003); break;
      case 4: add(`gen float ${i}`, i + 0.5); break;
      case 5: add(`gen bool ${i}`, i % 4 === 1); break;
      case 6: add(`gen null ${i}`, null); break;
      case 7: add(`gen medium ${i}`, filler(100 + (i % 200), i)); break;
      case 8: add(`gen nested ${i}`, nested(1 + (i % 6), { i })); break;
      default: add(`gen unicode ${i}`, { ['ключ' + i]: 'значение ' + i, emoji: '👍🏽'.repeat(1 + (i % 3)) });
    }
  }
  return out;
}

module.exports = { buildMessages, stringOfEncodedSize, encodedSize, filler };
