// engine.io v4 (Primus's engine.io transformer) behind the WebSocket
// interface the client drives (onopen, onmessage({data}), onclose({code}),
// send(frame), close()): HTTP long-polling through fetch, then — unless
// told `websockets: false`, and when the server offers it — a WebSocket
// probe ("2probe"/"3probe") and the upgrade ("5") once polling is idle.
// The server pings ("2"), this answers ("3"); silence for pingInterval +
// pingTimeout closes. `transport` says which one carries it now.

const SEP = '\x1e';

const b64 = (bytes) => {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
};
const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0)).buffer;
// A frame the client sends, as a packet ("4…" or "b<base64>").
const pack = (f) => (typeof f === 'string' ? '4' + f : 'b' + b64(f));

export class Eio {
  constructor(url, { WebSocket, fetch, websockets }) {
    // url: ws(s)://host/path?query — engine.io's path is the pathname + '/'.
    const u = new URL(url);
    this._q = u.search ? '&' + u.search.slice(1) : '';
    this._http = `${u.protocol === 'wss:' ? 'https:' : 'http:'}//${u.host}${u.pathname}/`;
    this._wsUrl = `${u.protocol}//${u.host}${u.pathname}/`;
    this._WS = websockets === false ? null : WebSocket;
    this._fetch = fetch;
    this._out = [];
    this._n = 0;
    this.transport = 'polling';
    this.bufferedAmount = 0;
    this._poll();
  }

  _url(base, transport) {
    return `${base}?EIO=4&transport=${transport}&t=${Date.now().toString(36)}.${this._n++}${this.sid ? '&sid=' + this.sid : ''}${this._q}`;
  }

  _req(body) {
    const ctrl = new AbortController();
    const init = { signal: ctrl.signal, cache: 'no-store', credentials: 'include' };
    if (body !== undefined) Object.assign(init, { method: 'POST', body, headers: { 'Content-Type': 'text/plain;charset=UTF-8' } });
    const p = this._fetch(this._url(this._http, 'polling'), init).then((r) => {
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.text();
    });
    p.abort = () => ctrl.abort();
    return p;
  }

  _poll() {
    if (this._done || this._get || this._ws_up) return;
    const p = (this._get = this._req());
    p.then(
      (text) => {
        this._get = null;
        for (const pk of text.split(SEP)) this._packet(pk);
        if (this._pausing) this._upgrade();
        else this._poll();
      },
      () => this._end()
    );
  }

  _post() {
    if (this._done || this._postP || !this._out.length || this._ws_up) return;
    const body = this._out.join(SEP);
    this._out = [];
    const p = (this._postP = this._req(body));
    p.then(
      () => {
        this._postP = null;
        if (this._pausing) this._upgrade();
        else this._post();
      },
      () => this._end()
    );
  }

  // One packet from the server, over either transport.
  _packet(pk) {
    if (this._done) return;
    const type = pk[0];
    if (type === '0' && !this.sid) {
      const h = JSON.parse(pk.slice(1));
      this.sid = h.sid;
      this._beatMs = h.pingInterval + h.pingTimeout;
      this._beat();
      if (this.onopen) this.onopen();
      if (this._WS && h.upgrades.includes('websocket') && !this._done) this._probe();
    } else if (type === '2') {
      this._beat();
      this._send('3');
    } else if (type === '4' || type === 'b') {
      if (this.onmessage) this.onmessage({ data: type === '4' ? pk.slice(1) : unb64(pk.slice(1)) });
    } else if (type === '1') {
      this._end();
    }
  }

  _beat() {
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this._end(), this._beatMs);
  }

  _probe() {
    let ws;
    try {
      ws = new this._WS(this._url(this._wsUrl, 'websocket'));
    } catch (e) {
      return;
    }
    this._ws = ws;
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => ws.send('2probe');
    ws.onmessage = (ev) => {
      if (this._ws_up) {
        if (typeof ev.data === 'string') this._packet(ev.data);
        else if (this.onmessage) this.onmessage(ev); // a binary message
        return;
      }
      if (ev.data === '3probe') {
        this._pausing = true;
        this._upgrade();
      }
    };
    ws.onclose = () => {
      if (this._ws !== ws) return;
      this._ws = null;
      if (this._ws_up) return this._end();
      this._pausing = false; // the probe failed: polling goes on
      this._poll();
      this._post();
    };
  }

  // Once the poll and the post in flight are back: "5", and the rest goes over the WebSocket.
  _upgrade() {
    if (!this._pausing || this._get || this._postP || !this._ws) return;
    this._pausing = false;
    this._ws_up = true;
    this.transport = 'websocket';
    this._ws.send('5');
    for (const pk of this._out) this._ws.send(pk);
    this._out = [];
  }

  _send(pk) {
    if (this._ws_up) this._ws.send(pk);
    else {
      this._out.push(pk);
      this._post();
    }
  }

  send(frame) {
    if (this._ws_up && typeof frame !== 'string') this._ws.send(frame);
    else this._send(pack(frame));
  }

  _end(code) {
    if (this._done) return;
    this._done = true;
    clearTimeout(this._timer);
    if (this._get) this._get.abort();
    if (this._ws) {
      this._ws.onclose = this._ws.onmessage = null;
      this._ws.close();
    }
    if (this.onclose) this.onclose({ code: code || 1006 });
  }

  close() {
    // A close packet when polling (the poll then comes back), a close frame when upgraded.
    if (!this._done && this.sid && !this._ws_up) this._fetch(this._url(this._http, 'polling'), { method: 'POST', body: '1' }).catch(() => {});
    this._end(1000);
  }
}
