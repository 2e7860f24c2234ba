'use strict';
// A Primus parser object (the `parser:` option): JSON written as ASCII only
// (every character past U+007E as a \uXXXX escape), for proxies that mangle
// UTF-8. Primus's createSocket() and library() send these two functions to
// the client as source text, so each uses nothing from outside itself.

exports.encoder = function encoder(data, fn) {
  let out;
  let err;
  try {
    out = JSON.stringify(data).replace(/[\u007f-\uffff]/g,
      (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  } catch (e) {
    err = e;
  }
  fn(err, out);
};

exports.decoder = function decoder(data, fn) {
  let out;
  let err;
  try {
    const text = typeof data === 'string' ? data : String(data);
    if (/[^\u0000-\u007e]/.test(text)) throw new Error('not ascii-json: a raw character past U+007E');
    out = JSON.parse(text);
  } catch (e) {
    err = e;
  }
  fn(err, out);
};
