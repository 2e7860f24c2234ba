'use strict';
// Raw WebSocket peers the runner plays itself (the npm `ws` package of
// tests/interop): a client that sends frames as given (bad JSON, a batch
// observer, a reader that stops reading) and a server that records what a
// client under test sends. Their events join the scenario's event log.
const path = require('node:path');
const { ROOT } = require('./hosts');
const { b64encode, b64decode } = require('./values');

const WS = require(path.join(ROOT, 'tests', 'interop', 'node_modules', 'ws'));

function frameEvent(base, data, isBinary) {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return isBinary ? { ...base, bin: b64encode(bytes) } : { ...base, text: Buffer.from(bytes).toString('utf8') };
}

class RawPeers {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.clients = new Map();
    this.servers = new Map();
  }

  /** raw_connect {raw, url, origin?, headers?, deflate?}: resolves once open or refused. */
  connect(step) {
    const name = step.raw;
    const ws = new WS(step.url.replace(/^http/, 'ws'), {
      origin: step.origin,
      headers: step.headers || {},
      perMessageDeflate: !!step.deflate,
    });
    this.clients.set(name, ws);
    ws.on('open', () => this.onEvent({ ev: 'raw_open', raw: name, extensions: ws.extensions || '' }));
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => this.onEvent({ ev: 'raw_refused', raw: name, status: res.statusCode, body }));
    });
    ws.on('message', (data, isBinary) => this.onEvent(frameEvent({ ev: 'raw_message', raw: name }, data, isBinary)));
    ws.on('close', (code) => this.onEvent({ ev: 'raw_close', raw: name, code }));
    ws.on('error', (e) => this.onEvent({ ev: 'raw_error', raw: name, message: e.message }));
    return new Promise((resolve) => {
      ws.once('open', resolve);
      ws.once('unexpected-response', resolve);
      ws.once('error', resolve);
    });
  }

  /** raw_serve {raw_server}: resolves with its ws:// URL (path /primus). */
  serve(step) {
    const name = step.raw_server;
    return new Promise((resolve, reject) => {
      const wss = new WS.Server({ host: '127.0.0.1', port: 0, perMessageDeflate: !!step.deflate });
      this.servers.set(name, { wss, sockets: [] });
      wss.on('error', reject);
      wss.on('listening', () => resolve(`ws://127.0.0.1:${wss.address().port}/primus`));
      wss.on('connection', (ws, req) => {
        this.servers.get(name).sockets.push(ws);
        this.onEvent({ ev: 'raw_connection', raw_server: name, url: req.url,
          extensions: req.headers['sec-websocket-extensions'] || '' });
        for (const f of step.send || []) ws.send(f.bin !== undefined ? Buffer.from(b64decode(f.bin)) : f.text);
        ws.on('message', (data, isBinary) =>
          this.onEvent(frameEvent({ ev: 'raw_message', raw_server: name }, data, isBinary)));
      });
    });
  }

  send(step) {
    const ws = this.need(step.raw);
    ws.send(step.bin !== undefined ? Buffer.from(b64decode(step.bin)) : step.text);
  }

  /** Stops (or resumes) reading the client's socket: its kernel buffers fill. */
  pause(step, on) {
    const ws = this.need(step.raw);
    if (on) ws._socket.pause();
    else ws._socket.resume();
  }

  close(step) {
    this.need(step.raw).close();
  }

  need(name) {
    const ws = this.clients.get(name);
    if (!ws) throw new Error(`no raw peer ${name}`);
    return ws;
  }

  async closeAll() {
    for (const ws of this.clients.values()) ws.terminate();
    for (const { wss, sockets } of this.servers.values()) {
      for (const s of sockets) s.terminate();
      await new Promise((r) => wss.close(() => r()));
    }
  }
}

module.exports = { RawPeers };
