// The conformance protocol's value encoding (README.md, "Values"), for the
// runner, the Node driver and the browser driver's page (a plain script
// there: it defines the global ConformanceValues).
//
//   toNative(wire)  protocol JSON -> a JavaScript value as weft's JS hosts
//                   take it: numbers, BigInt beyond 2^53, Uint8Array (Buffer
//                   in Node) for binary, arrays, plain objects for maps
//   fromNative(v)   the reverse (what a JS host received -> protocol JSON)
//   canon(wire)     a canonical form for comparing two protocol values:
//                   ints and floats tagged, maps as sorted pairs
//   equal(a, b)     canon(a) deep-equals canon(b); a pattern {"$any": true}
//                   in `a` matches anything
(function (root) {
  'use strict';
  const TAGS = ['$int', '$float', '$bin', '$map'];
  const SAFE = Number.MAX_SAFE_INTEGER;
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

  function b64encode(bytes) {
    let out = '';
    for (let i = 0; i < bytes.length; i += 3) {
      const n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8) | (bytes[i + 2] || 0);
      out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
      out += i + 1 < bytes.length ? B64[(n >> 6) & 63] : '=';
      out += i + 2 < bytes.length ? B64[n & 63] : '=';
    }
    return out;
  }

  function b64decode(text) {
    const s = String(text).replace(/=+$/, '');
    if (/[^A-Za-z0-9+/]/.test(s) || s.length % 4 === 1) throw new Error(`bad base64: ${text}`);
    const out = new Uint8Array(Math.floor((s.length * 3) / 4));
    let o = 0;
    for (let i = 0; i < s.length; i += 4) {
      const n = (B64.indexOf(s[i]) << 18) | (B64.indexOf(s[i + 1]) << 12) |
        ((i + 2 < s.length ? B64.indexOf(s[i + 2]) : 0) << 6) | (i + 3 < s.length ? B64.indexOf(s[i + 3]) : 0);
      out[o++] = (n >> 16) & 255;
      if (i + 2 < s.length) out[o++] = (n >> 8) & 255;
      if (i + 3 < s.length) out[o++] = n & 255;
    }
    return out;
  }

  /** The one tag of a tagged object, or null. */
  function tagOf(v) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
    const keys = Object.keys(v);
    return keys.length === 1 && TAGS.includes(keys[0]) ? keys[0] : null;
  }

  function floatText(d) {
    if (Number.isNaN(d)) return 'NaN';
    if (d === Infinity) return 'Infinity';
    if (d === -Infinity) return '-Infinity';
    if (Object.is(d, -0)) return '-0';
    return String(d);
  }

  /** A double as protocol JSON: plain when not integral, else tagged. */
  function wireFloat(d) {
    return Number.isFinite(d) && !Number.isInteger(d) ? d : { $float: floatText(d) };
  }

  /** An integer (number or BigInt) as protocol JSON. */
  function wireInt(i) {
    if (typeof i === 'bigint') return i >= -BigInt(SAFE) && i <= BigInt(SAFE) ? Number(i) : { $int: i.toString() };
    return Number.isSafeInteger(i) ? i : { $int: BigInt(i).toString() };
  }

  function toNative(w, binary) {
    const mk = binary || ((u8) => u8);
    if (w === null || typeof w === 'boolean' || typeof w === 'string' || typeof w === 'number') return w;
    if (Array.isArray(w)) return w.map((x) => toNative(x, binary));
    switch (tagOf(w)) {
      case '$int': {
        const b = BigInt(w.$int);
        return b >= -BigInt(SAFE) && b <= BigInt(SAFE) ? Number(b) : b;
      }
      case '$float': return Number(w.$float);
      case '$bin': return mk(b64decode(w.$bin));
      case '$map': {
        const out = {};
        for (const [k, v] of w.$map) out[typeof k === 'string' ? k : JSON.stringify(k)] = toNative(v, binary);
        return out;
      }
      default: {
        const out = {};
        for (const k of Object.keys(w)) out[k] = toNative(w[k], binary);
        return out;
      }
    }
  }

  /** What a JS host received, as protocol JSON. Every number that is an
   * integer is an int: JavaScript cannot tell 2.0 from 2. */
  function fromNative(v) {
    if (v === null || v === undefined) return null;
    if (typeof v === 'boolean' || typeof v === 'string') return v;
    if (typeof v === 'number') return Number.isInteger(v) && !Object.is(v, -0) ? wireInt(v) : wireFloat(v);
    if (typeof v === 'bigint') return wireInt(v);
    if (v instanceof Uint8Array) return { $bin: b64encode(v) };
    if (v instanceof ArrayBuffer) return { $bin: b64encode(new Uint8Array(v)) };
    if (ArrayBuffer.isView(v)) return { $bin: b64encode(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) };
    if (Array.isArray(v)) return v.map(fromNative);
    const out = {};
    const keys = Object.keys(v);
    for (const k of keys) out[k] = fromNative(v[k]);
    return keys.length === 1 && TAGS.includes(keys[0]) ? { $map: [[keys[0], out[keys[0]]]] } : out;
  }

  const ANY = { $any: true };
  function canon(w) {
    if (w === null || typeof w === 'boolean' || typeof w === 'string') return w;
    if (typeof w === 'number') return Number.isInteger(w) ? { $int: String(w) } : { $float: floatText(w) };
    if (Array.isArray(w)) return w.map(canon);
    if (typeof w === 'object' && Object.keys(w).length === 1 && w.$any === true) return ANY;
    const pairs = [];
    switch (tagOf(w)) {
      case '$int': return { $int: BigInt(w.$int).toString() };
      case '$float': return { $float: floatText(Number(w.$float)) };
      case '$bin': return { $bin: b64encode(b64decode(w.$bin)) };
      case '$map':
        for (const [k, v] of w.$map) pairs.push([canon(k), canon(v)]);
        break;
      default:
        for (const k of Object.keys(w)) pairs.push([k, canon(w[k])]);
    }
    pairs.sort((a, b) => (JSON.stringify(a[0]) < JSON.stringify(b[0]) ? -1 : 1));
    return { $map: pairs };
  }

  function same(a, b) {
    if (a && a.$any === true && Object.keys(a).length === 1) return true;
    if (a === b) return true;
    if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
    if (Array.isArray(a) !== Array.isArray(b)) return false;
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => k in b && same(a[k], b[k]));
  }

  /** Does protocol value `got` equal `want` (which may hold {"$any": true})? */
  function equal(want, got) {
    return same(canon(want), canon(got));
  }

  const api = { toNative, fromNative, canon, equal, b64encode, b64decode, wireInt, wireFloat };
  if (typeof module !== 'undefined' && module.exports) module.exports = api;
  else root.ConformanceValues = api;
})(typeof globalThis !== 'undefined' ? globalThis : this);
