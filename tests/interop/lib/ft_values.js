'use strict';
// The fast-tcp value set (issue #20): [label, value, what a fast-tcp peer
// receives back when it differs]. fast-tcp sends null as "empty"
// (undefined arrives) and -0 as an integer (0 arrives).
const crypto = require('node:crypto');

function cases() {
  const big = crypto.randomBytes(1 << 20);
  return [
    ['string', 'héllo'], ['empty string', ''], ['1 MiB string', 'x'.repeat(1 << 20)],
    ['U+2028', 'a\u2028b'], ['emoji', '😀 \u{1F469}\u200D\u{1F4BB}'],
    ['empty buffer', Buffer.alloc(0)], ['1 MiB buffer', big],
    ['2^47-1', 2 ** 47 - 1], ['-(2^47-1)', -(2 ** 47 - 1)], ['-2^47', -(2 ** 47)], ['zero', 0],
    ['-0', -0, 0], ['1.5', 1.5], ['-1.5e-300', -1.5e-300], ['MIN_VALUE', Number.MIN_VALUE],
    ['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity],
    ['true', true], ['false', false], ['null', null, undefined],
    ['nested object', { a: { b: [1, 'x', true, null, { c: 2.5 }] }, '\u2028': '😀', n: 2 ** 53 }],
    ['array', [1, [2, [3, []]], {}]], ['empty object', {}],
  ];
}

module.exports = { cases };
