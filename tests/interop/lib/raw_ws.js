'use strict';
//
// A deliberately tiny, hand-written WebSocket client over node:net for the
// bad-input tests: it can send frames a real client never would (unmasked,
// reserved opcodes, invalid UTF-8, oversized) and reports exactly what the
// server answers (frames, close code, TCP close).
//
const crypto = require('node:crypto');
const net = require('node:net');
const { EventEmitter } = require('node:events');

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa };

/**
 * Encode one frame. payload: Buffer | string. mask defaults to true (a client
 * must mask). rsv: 3-bit value for RSV1..RSV3.
 */
function encodeFrame({ opcode = OP.TEXT, payload = Buffer.alloc(0), fin = true, mask = true, rsv = 0, maskKey } = {}) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
  const len = data.length;
  let header;
  if (len < 126) {
    header = Buffer.alloc(2);
    header[1] = len;
  } else if (len < 65536) {
    header = Buffer.alloc(4);
    header[1] = 126;
    header.writeUInt16BE(len, 2);
  } else {
    header = Buffer.alloc(10);
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(len), 2);
  }
  header[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
  if (!mask) return Buffer.concat([header, data]);
  header[1] |= 0x80;
  const key = maskKey || crypto.randomBytes(4);
  const masked = Buffer.alloc(len);
  for (let i = 0; i < len; i++) masked[i] = data[i] ^ key[i & 3];
  return Buffer.concat([header, key, masked]);
}

class RawWebSocket extends EventEmitter {
  constructor(socket) {
    super();
    this.socket = socket;
    this.buffer = Buffer.alloc(0);
    this.frames = [];          // received, not yet consumed frames
    this.waiters = [];
    this.closeCode = null;     // from the server's close frame (1005 if empty)
    this.closeReason = null;
    this.gotCloseFrame = false;
    this.tcpClosed = false;
    this.autoReplyClose = true;
    this.sentClose = false;

    this.closed = new Promise((resolve) => { this._resolveClosed = resolve; });
    socket.on('data', (d) => this._onData(d));
    socket.on('error', (err) => { this.error = err; });
    socket.on('close', () => {
      this.tcpClosed = true;
      this._resolveClosed(this.state());
      this._wake();
      this.emit('tcp-close');
    });
  }

  state() {
    return { closeCode: this.closeCode, closeReason: this.closeReason, gotCloseFrame: this.gotCloseFrame, tcpClosed: this.tcpClosed };
  }

  /**
   * Open a WebSocket to ws://host:port/path (upgrade handshake checked,
   * including Sec-WebSocket-Accept).
   */
  static connect(url, { timeout = 5000, headers = {} } = {}) {
    const u = new URL(url);
    const key = crypto.randomBytes(16).toString('base64');
    const expectAccept = crypto.createHash('sha1').update(key + GUID).digest('base64');
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: u.hostname, port: Number(u.port) });
      const timer = setTimeout(() => { socket.destroy(); reject(new Error(`raw ws handshake timeout ${url}`)); }, timeout);
      let head = Buffer.alloc(0);
      const fail = (err) => { clearTimeout(timer); socket.destroy(); reject(err); };
      socket.once('error', fail);
      socket.on('connect', () => {
        const lines = [
          `GET ${u.pathname}${u.search} HTTP/1.1`,
          `Host: ${u.host}`,
          'Connection: Upgrade',
          'Upgrade: websocket',
          'Sec-WebSocket-Version: 13',
          `Sec-WebSocket-Key: ${key}`
        ];
        for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
        socket.write(lines.join('\r\n') + '\r\n\r\n');
      });
      const onData = (d) => {
        head = Buffer.concat([head, d]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.removeListener('data', onData);
        socket.removeListener('error', fail);
        clearTimeout(timer);
        const text = head.subarray(0, end).toString('latin1');
        const rest = head.subarray(end + 4);
        const [status, ...hdrLines] = text.split('\r\n');
        const m = /^HTTP\/1\.1 (\d{3})/.exec(status);
        const hdrs = {};
        for (const l of hdrLines) {
          const i = l.indexOf(':');
          if (i > 0) hdrs[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        if (!m || m[1] !== '101') {
          socket.destroy();
          const err = new Error(`raw ws: expected 101, got ${JSON.stringify(status)}`);
          err.statusCode = m ? Number(m[1]) : null;
          err.headers = hdrs;
          return reject(err);
        }
        if (hdrs['sec-websocket-accept'] !== expectAccept) {
          socket.destroy();
          return reject(new Error(`raw ws: bad Sec-WebSocket-Accept ${hdrs['sec-websocket-accept']}`));
        }
        const ws = new RawWebSocket(socket);
        ws.handshakeHeaders = hdrs;
        if (rest.length) ws._onData(rest);
        resolve(ws);
      };
      socket.on('data', onData);
    });
  }

  _onData(d) {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, d]) : d;
    for (;;) {
      const b = this.buffer;
      if (b.length < 2) return;
      const fin = (b[0] & 0x80) !== 0;
      const rsv = (b[0] >> 4) & 7;
      const opcode = b[0] & 0x0f;
      const masked = (b[1] & 0x80) !== 0;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      let key = null;
      if (masked) {
        if (b.length < off + 4) return;
        key = b.subarray(off, off + 4);
        off += 4;
      }
      if (b.length < off + len) return;
      let payload = Buffer.from(b.subarray(off, off + len));
      if (key) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
      this.buffer = b.subarray(off + len);
      this._onFrame({ fin, rsv, opcode, masked, payload });
    }
  }

  _onFrame(frame) {
    if (frame.opcode === OP.CLOSE && !this.gotCloseFrame) {
      this.gotCloseFrame = true;
      this.closeCode = frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
      this.closeReason = frame.payload.length > 2 ? frame.payload.subarray(2).toString('utf8') : '';
      if (this.autoReplyClose && !this.sentClose) {
        // Be a polite peer: answer the close handshake, then let the server
        // drop TCP.
        this.sentClose = true;
        const body = Buffer.alloc(2);
        body.writeUInt16BE(this.closeCode === 1005 ? 1000 : this.closeCode, 0);
        try { this.socket.write(encodeFrame({ opcode: OP.CLOSE, payload: this.closeCode === 1005 ? Buffer.alloc(0) : body })); } catch (e) { /* gone */ }
      }
      this.emit('close-frame', this.closeCode, this.closeReason);
    }
    this.frames.push(frame);
    this.emit('frame', frame);
    this._wake();
  }

  _wake() {
    this.waiters = this.waiters.filter((w) => !w());
  }

  /** Write raw bytes (already framed, or garbage). */
  writeRaw(buf) {
    this.socket.write(buf);
  }

  send(payload, opts = {}) {
    const isText = typeof payload === 'string';
    this.socket.write(encodeFrame({ opcode: isText ? OP.TEXT : OP.BINARY, payload, ...opts }));
  }

  sendFrame(opts) {
    this.socket.write(encodeFrame(opts));
  }

  /**
   * Resolve with the next received frame matching filter (consumed from the
   * queue). Rejects on timeout or when the TCP connection closes first.
   */
  nextFrame({ timeout = 5000, filter = () => true } = {}) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`raw ws: no matching frame within ${timeout} ms (state ${JSON.stringify(this.state())})`));
      }, timeout);
      const check = () => {
        const i = this.frames.findIndex(filter);
        if (i >= 0) {
          clearTimeout(timer);
          resolve(this.frames.splice(i, 1)[0]);
          return true;
        }
        if (this.tcpClosed) {
          clearTimeout(timer);
          reject(new Error(`raw ws: connection closed before a matching frame (state ${JSON.stringify(this.state())})`));
          return true;
        }
        return false;
      };
      if (!check()) this.waiters.push(check);
    });
  }

  /** Next data frame (text/binary) that is not a Primus ping. */
  nextMessage(opts = {}) {
    return this.nextFrame({
      ...opts,
      filter: (f) => (f.opcode === OP.TEXT || f.opcode === OP.BINARY) && !isPrimusPing(f)
    });
  }

  /**
   * Resolve with state() once the server has closed the connection: a close
   * frame received, or the TCP connection closed. Rejects on timeout.
   */
  waitClosed(timeout = 2000, { requireTcp = false } = {}) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`raw ws: server did not close within ${timeout} ms (state ${JSON.stringify(this.state())})`));
      }, timeout);
      const check = () => {
        if (this.tcpClosed || (!requireTcp && this.gotCloseFrame)) {
          clearTimeout(timer);
          resolve(this.state());
          return true;
        }
        return false;
      };
      if (!check()) this.waiters.push(check);
    });
  }

  destroy() {
    this.socket.destroy();
  }
}

function isPrimusPing(frame) {
  if (frame.opcode === OP.TEXT) return /^"primus::ping::/.test(frame.payload.toString('utf8'));
  // msgpack: a str whose bytes contain the ping prefix.
  if (frame.opcode === OP.BINARY) return frame.payload.includes('primus::ping::');
  return false;
}

module.exports = { RawWebSocket, encodeFrame, isPrimusPing, OP };
