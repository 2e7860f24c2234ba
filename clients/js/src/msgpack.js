// A small MessagePack codec (the subset weft and Primus's msgpack parser
// use: nil, bool, int, float, str, bin, array, map; no ext types). Strict:
// truncated input, trailing bytes, ext types and nesting deeper than
// MAX_DEPTH throw a MsgpackError with the byte offset.

export const MAX_DEPTH = 512;

export class MsgpackError extends Error {
  constructor(message, offset) {
    super(message);
    this.name = 'MsgpackError';
    this.offset = offset;
  }
}

const te = new TextEncoder();
const td = new TextDecoder('utf-8', { fatal: true });

/**
 * Encodes a value as MessagePack.
 * @param {*} value
 * @returns {Uint8Array}
 */
export function encode(value) {
  let buf = new Uint8Array(256);
  let view = new DataView(buf.buffer);
  let pos = 0;
  const need = (n) => {
    if (pos + n <= buf.length) return;
    let size = buf.length * 2;
    while (size < pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(buf);
    buf = next;
    view = new DataView(buf.buffer);
  };
  const u8 = (b) => {
    need(1);
    buf[pos++] = b;
  };
  const head = (tag, n, width) => {
    need(1 + width);
    buf[pos++] = tag;
    if (width === 1) view.setUint8(pos, n);
    else if (width === 2) view.setUint16(pos, n);
    else view.setUint32(pos, n);
    pos += width;
  };
  const sized = (n, fix, fixMax, t8, t16, t32) => {
    if (fix !== null && n <= fixMax) u8(fix | n);
    else if (t8 !== null && n < 0x100) head(t8, n, 1);
    else if (n < 0x10000) head(t16, n, 2);
    else head(t32, n, 4);
  };
  const bytes = (b) => {
    need(b.length);
    buf.set(b, pos);
    pos += b.length;
  };
  const int = (n) => {
    if (n >= 0) {
      if (n < 0x80) u8(n);
      else if (n < 0x100) head(0xcc, n, 1);
      else if (n < 0x10000) head(0xcd, n, 2);
      else if (n < 0x100000000) head(0xce, n, 4);
      else {
        need(9);
        buf[pos++] = 0xcf;
        view.setBigUint64(pos, BigInt(n));
        pos += 8;
      }
    } else if (n >= -32) {
      u8(n & 0xff);
    } else if (n >= -0x80) {
      need(2);
      buf[pos++] = 0xd0;
      view.setInt8(pos++, n);
    } else if (n >= -0x8000) {
      need(3);
      buf[pos++] = 0xd1;
      view.setInt16(pos, n);
      pos += 2;
    } else if (n >= -0x80000000) {
      need(5);
      buf[pos++] = 0xd2;
      view.setInt32(pos, n);
      pos += 4;
    } else {
      need(9);
      buf[pos++] = 0xd3;
      view.setBigInt64(pos, BigInt(n));
      pos += 8;
    }
  };
  const walk = (v, depth) => {
    if (depth > MAX_DEPTH) throw new MsgpackError('value nested too deeply', pos);
    if (v === null || v === undefined) return u8(0xc0);
    switch (typeof v) {
      case 'boolean':
        return u8(v ? 0xc3 : 0xc2);
      case 'number':
        if (Number.isSafeInteger(v) && !Object.is(v, -0)) return int(v);
        need(9);
        buf[pos++] = 0xcb;
        view.setFloat64(pos, v);
        pos += 8;
        return;
      case 'bigint':
        if (v < -(2n ** 63n) || v >= 2n ** 64n) throw new MsgpackError('integer out of range', pos);
        need(9);
        buf[pos++] = v < 0n ? 0xd3 : 0xcf;
        if (v < 0n) view.setBigInt64(pos, v);
        else view.setBigUint64(pos, v);
        pos += 8;
        return;
      case 'string': {
        const b = te.encode(v);
        sized(b.length, 0xa0, 31, 0xd9, 0xda, 0xdb);
        return bytes(b);
      }
      case 'object': {
        if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
          const b =
            v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
          sized(b.length, null, 0, 0xc4, 0xc5, 0xc6);
          return bytes(b);
        }
        if (typeof v.toJSON === 'function') return walk(v.toJSON(), depth);
        if (Array.isArray(v)) {
          sized(v.length, 0x90, 15, null, 0xdc, 0xdd);
          for (const item of v) walk(item, depth + 1);
          return;
        }
        const keys = Object.keys(v).filter((k) => v[k] !== undefined && typeof v[k] !== 'function');
        sized(keys.length, 0x80, 15, null, 0xde, 0xdf);
        for (const k of keys) {
          walk(k, depth + 1);
          walk(v[k], depth + 1);
        }
        return;
      }
      default:
        throw new MsgpackError(`cannot encode a ${typeof v}`, pos);
    }
  };
  walk(value, 0);
  return buf.slice(0, pos);
}

/**
 * Decodes one MessagePack value that fills the whole buffer.
 * @param {ArrayBuffer|Uint8Array} input
 * @returns {*}
 */
export function decode(input) {
  const buf = input instanceof Uint8Array ? input : new Uint8Array(input);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 0;
  const take = (n) => {
    if (pos + n > buf.length) throw new MsgpackError('truncated message', pos);
    const at = pos;
    pos += n;
    return at;
  };
  const str = (n) => {
    const at = take(n);
    try {
      return td.decode(buf.subarray(at, at + n));
    } catch (e) {
      throw new MsgpackError('invalid UTF-8', at);
    }
  };
  const bin = (n) => {
    const at = take(n);
    return buf.slice(at, at + n);
  };
  const big = (v) => (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
  const arr = (n, depth) => {
    const out = new Array(Math.min(n, buf.length - pos));
    for (let i = 0; i < n; i++) out[i] = read(depth + 1);
    return out;
  };
  const map = (n, depth) => {
    const out = {};
    for (let i = 0; i < n; i++) {
      const k = read(depth + 1);
      const key = typeof k === 'string' ? k : String(k);
      const v = read(depth + 1);
      if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      else out[key] = v;
    }
    return out;
  };
  const read = (depth) => {
    if (depth > MAX_DEPTH) throw new MsgpackError('value nested too deeply', pos);
    const at = take(1);
    const t = buf[at];
    if (t < 0x80) return t;
    if (t >= 0xe0) return t - 0x100;
    if (t >= 0xa0 && t <= 0xbf) return str(t & 0x1f);
    if (t >= 0x90 && t <= 0x9f) return arr(t & 0x0f, depth);
    if (t >= 0x80 && t <= 0x8f) return map(t & 0x0f, depth);
    switch (t) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return bin(view.getUint8(take(1)));
      case 0xc5: return bin(view.getUint16(take(2)));
      case 0xc6: return bin(view.getUint32(take(4)));
      case 0xca: return view.getFloat32(take(4));
      case 0xcb: return view.getFloat64(take(8));
      case 0xcc: return view.getUint8(take(1));
      case 0xcd: return view.getUint16(take(2));
      case 0xce: return view.getUint32(take(4));
      case 0xcf: return big(view.getBigUint64(take(8)));
      case 0xd0: return view.getInt8(take(1));
      case 0xd1: return view.getInt16(take(2));
      case 0xd2: return view.getInt32(take(4));
      case 0xd3: return big(view.getBigInt64(take(8)));
      case 0xd9: return str(view.getUint8(take(1)));
      case 0xda: return str(view.getUint16(take(2)));
      case 0xdb: return str(view.getUint32(take(4)));
      case 0xdc: return arr(view.getUint16(take(2)), depth);
      case 0xdd: return arr(view.getUint32(take(4)), depth);
      case 0xde: return map(view.getUint16(take(2)), depth);
      case 0xdf: return map(view.getUint32(take(4)), depth);
      default:
        throw new MsgpackError(`unsupported type 0x${t.toString(16)}`, at);
    }
  };
  const v = read(0);
  if (pos !== buf.length) throw new MsgpackError('trailing bytes after the message', pos);
  return v;
}
