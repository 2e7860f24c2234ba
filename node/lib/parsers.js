'use strict';
//
// Primus's parser objects: `parser: { encoder(data, fn), decoder(data, fn) }`
// (and an optional `library`, the browser's source for them). The core calls
// them for every message of the server's sparks (or the client) through the
// addon (src/parser.c): writes, broadcasts (once each), its own
// primus::ping:: and primus::server::close, and every read. They run inside
// the core's reads and writes, so each must call fn before it returns, as
// Primus's own parsers do; one that does not fails that message.
//
const binding = require('./binding');
const { check } = require('./errors');

/** Splits a parser object off the options: [options without it, parser | null]. */
function split(options) {
  if (!options || typeof options !== 'object' || options.parser === undefined || typeof options.parser === 'string') {
    return [options, null];
  }
  const { parser, ...rest } = options;
  if (parser === null || typeof parser !== 'object' || typeof parser.encoder !== 'function' ||
      typeof parser.decoder !== 'function') {
    const err = new TypeError('parser must be a parser name or an object with encoder(data, fn) and decoder(data, fn) functions');
    err.code = 'ERR_INVALID_ARG_VALUE';
    throw err;
  }
  return [rest, parser];
}

/** The name the spec gives a parser object: its own `name`, else "custom". */
function nameOf(parser) {
  return typeof parser.name === 'string' && /^[\w.-]{1,32}$/.test(parser.name) &&
    !/^(json|msgpack|raw)$/i.test(parser.name) ? parser.name : 'custom';
}

// encoder or decoder on data: [result], or an Error (the dispatcher never throws).
function run(self, fn, data) {
  let called = false;
  let err;
  let out;
  try {
    fn.call(self, data, (e, v) => {
      if (called) return;
      called = true;
      err = e;
      out = v;
    });
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
  if (!called) return new Error('the parser did not call back before it returned');
  if (err) return err instanceof Error ? err : new Error(String(err));
  return [out];
}

/** Registers `parser` as the core's parser of a server's or client's handle (before it listens / opens). */
function attach(self, ext, parser) {
  self._parserObj = parser;
  check(binding.parserAttach(ext, nameOf(parser), parser.binary === true), 'parser');
}

/** binding.setup's dispatcher (src/parser.c): this = the server or client. */
const dispatchers = {
  parser(encode, value) {
    const p = this._parserObj;
    if (!p) return new Error('no parser');
    return run(this, encode ? p.encoder : p.decoder, value);
  }
};

/**
 * The browser client's registration of a parser object, for library():
 * Primus.parsers[name] with encode/decode over the object's functions (and
 * its `library` before them, as Primus's library carries it).
 */
function librarySource(parser) {
  const fn = (f) => { const s = f.toString(); return /^(function|async|\(|[\w$]+\s*=>)/.test(s) ? s : `function ${s}`; };
  return `${typeof parser.library === 'string' ? parser.library : ''}
;(function (Base) {
  if (!Base || !Base.parsers) return;
  var encoder = ${fn(parser.encoder)};
  var decoder = ${fn(parser.decoder)};
  function sync(f, data) {
    var done = false, err, out;
    f(data, function (e, v) { if (!done) { done = true; err = e; out = v; } });
    if (!done) throw new Error('the parser did not call back before it returned');
    if (err) throw err;
    return out;
  }
  Base.parsers[${JSON.stringify(nameOf(parser))}] = {
    name: ${JSON.stringify(nameOf(parser))},
    encode: function (v) { return sync(encoder, v); },
    decode: function (frame) { return sync(decoder, frame); }
  };
})(globalThis.Primus);
`;
}

module.exports = { split, attach, dispatchers, nameOf, librarySource };
