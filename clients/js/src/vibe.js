// The Vibe protocol (vibe-protocol 3.0.0-Alpha9) for weft's browser client,
// an optional module (dist/weft-vibe.mjs, which imports weft.mjs, and
// dist/weft-vibe.min.js, a classic script after weft.js or primus.js, served
// at <path>/weft-vibe.js): loading it registers the transformer "vibe"
// (Weft.transformers.vibe), so that
//   new Weft(url, { transformer: 'vibe', transport: 'httpstream', emitter: true })
// speaks Vibe over ws, httpstream (a streamed fetch: padding, then
// "data: <text>" messages, the first "?id=<id>") or httplongpoll (the open
// GET names the socket, each poll's answer is one event, an empty one the
// close), posting "data=<event>" one at a time so that events arrive in
// order, GET when=abort to close. The transport is the option's, or the
// URL's ?transport=ws|stream|longpoll (as the reference's URIs), ws
// without either; both must agree.
//
// Behind the WebSocket interface the client drives (onopen, onmessage,
// onclose, send, close), as engine.io's: Vibe events become the emitter's
// packets and back, as the C core does (core/transport/vibe/event.c): an
// event {type, data, reply} is the emitter event `type` with the argument
// `data` (one datum: of an emit with several arguments the first goes),
// its reply an ack (resolve: [null, v], reject: [v]); a plain write leaves
// as the event "message"; Primus's own strings are dropped; channel packets
// have no Vibe form. The heartbeat is Vibe's: the handshake
// ("?heartbeat=<ms>&_heartbeat=<ms>") says when to send one and how long to
// wait for its echo; no echo closes the socket (1006), and the client's
// reconnect and offline queue take over. The client's <path>/spec and its
// Primus ping timeout are skipped.
const TRANSPORTS = { ws: 'ws', stream: 'httpstream', longpoll: 'httplongpoll' };

class Vibe {
  constructor(url, transport, fetch, WS) {
    this.transport = transport;
    this.bufferedAmount = 0;
    this._fetch = fetch;
    this._seq = 0;
    this._n = 0;
    this._asked = new Map(); // our ack ids -> the peer's event ids
    this._posts = [];
    const u = new URL(url);
    if (transport === 'ws') {
      const ws = (this._ws = new WS(url));
      ws.onmessage = (ev) => this._text(String(ev.data));
      ws.onclose = () => this._end();
      return;
    }
    u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
    u.searchParams.set('transport', transport === 'httpstream' ? 'stream' : 'longpoll');
    this._url = u;
    if (transport === 'httpstream') this._stream();
    else this._get('open').then((t) => this._id(t) && this._poll(), () => this._end());
  }

  // A request to the URL with when= and id= (the reference's targets).
  _req(when, init) {
    const u = new URL(this._url);
    if (when) u.searchParams.set('when', when);
    if (this.id) u.searchParams.set('id', this.id);
    const ctrl = new AbortController();
    if (when === 'open' || when === 'poll') this._abort = () => ctrl.abort();
    return this._fetch(u.href, Object.assign({ cache: 'no-store', signal: ctrl.signal }, init)).then((r) => {
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      return r;
    });
  }

  _get(when) {
    return this._req(when).then((r) => r.text());
  }

  // "?id=<id>": the socket's name; anything else ends it.
  _id(text) {
    const m = /^\?id=([\w-]{1,63})(&|$)/.exec(text);
    if (!m) return this._end(), false;
    this.id = m[1];
    return true;
  }

  _poll() {
    if (this._done) return;
    this._get('poll').then((t) => {
      if (!t) return this._end(); // the server closed it
      this._poll();
      this._text(t);
    }, () => this._end());
  }

  _stream() {
    let buf = '';
    const dec = new TextDecoder();
    this._req('open').then((r) => {
      const reader = r.body.getReader();
      const read = () => reader.read().then(({ done, value }) => {
        if (done || this._done) return this._end();
        buf += dec.decode(value, { stream: true });
        for (;;) {
          buf = buf.replace(/^\s+/, ''); // the padding, between messages
          const at = buf.indexOf('\n\n');
          if (at < 0 || this._done) break;
          const text = buf.slice(0, at).split('\n').filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(l[5] === ' ' ? 6 : 5)).join('\n');
          buf = buf.slice(at + 2);
          if (!this.id) this._id(text);
          else this._text(text);
        }
        return read();
      });
      read().catch(() => this._end());
    }, () => this._end());
  }

  // One text from the server: the handshake first, then events.
  _text(text) {
    if (this._done) return;
    if (!this._open) {
      const q = new URLSearchParams(text.slice(1));
      if (text[0] !== '?') return this._end();
      this._hb = +q.get('heartbeat') || 20000;
      this._wait = +q.get('_heartbeat') || 5000;
      this._open = true;
      this._beat();
      return this.onopen && this.onopen();
    }
    let e;
    try {
      e = JSON.parse(text);
    } catch (err) {
      return this._end();
    }
    if (!e || typeof e.type !== 'string') return this._end();
    let packet;
    if (e.type === 'heartbeat') return this._beat();
    if (e.type === 'reply') {
      const d = e.data || {};
      packet = { type: 1, id: +d.id, data: d.exception ? [d.data] : [null, d.data] };
    } else {
      packet = { type: 0, data: 'data' in e ? [e.type, e.data] : [e.type] };
      if (e.reply && e.id != null) {
        this._asked.set((packet.id = ++this._n), e.id);
      }
    }
    if (this.onmessage) this.onmessage({ data: JSON.stringify(packet) });
  }

  // Vibe's heartbeat: one `heartbeat - _heartbeat` ms after the last echo
  // (or the open), then `_heartbeat` ms for its echo.
  _beat() {
    clearTimeout(this._timer);
    this._timer = setTimeout(() => {
      this._event('heartbeat');
      this._timer = setTimeout(() => this._end(), this._wait);
    }, this._hb - this._wait);
  }

  _event(type, data, id, reply) {
    const e = { id: id || `n${++this._seq}`, type, reply: !!reply };
    if (data !== undefined) e.data = data;
    const text = JSON.stringify(e);
    if (this._ws) return this._ws.send(text);
    this._posts.push(`data=${text}`);
    if (this._posts.length === 1) this._post();
  }

  // One post at a time, in order.
  _post() {
    if (this._done || !this._posts.length) return;
    this._req(null, { method: 'POST', body: this._posts[0], headers: { 'Content-Type': 'text/plain; charset=utf-8' } })
      .catch(() => {})
      .then(() => {
        this._posts.shift();
        this._post();
      });
  }

  /** A frame of the client's json parser. */
  send(frame) {
    const v = JSON.parse(frame);
    if (typeof v === 'string' && v.startsWith('primus::')) return;
    const t = v && typeof v === 'object' && Array.isArray(v.data) ? v.type : -1;
    if (t === 0 && typeof v.data[0] === 'string') this._event(v.data[0], v.data[1], v.id && String(v.id), v.id);
    else if (t === 1 && this._asked.has(v.id)) {
      const ok = v.data.length > 1 && v.data[0] === null;
      const to = this._asked.get(v.id);
      this._asked.delete(v.id);
      this._event('reply', { id: to, data: ok ? v.data[1] : v.data[0], exception: !ok });
    } else if (t < 0 || t > 4) this._event('message', v);
    // channel packets (types 2 to 4) have no Vibe form: dropped
  }

  _end() {
    if (this._done) return;
    this._done = true;
    clearTimeout(this._timer);
    if (this._abort) this._abort();
    if (this._ws) {
      this._ws.onclose = this._ws.onmessage = null;
      this._ws.close();
    }
    if (this.onclose) this.onclose({ code: 1006 });
  }

  // An orderly close: the server told (when=abort) before the stream or the
  // poll is cut, as the C client does (decision #27).
  close() {
    if (this._done) return;
    this._done = true;
    clearTimeout(this._timer);
    if (this._ws) return this._ws.close(1000);
    const cut = () => this._abort && this._abort();
    if (!this.id) return cut();
    const timer = setTimeout(cut, 2000);
    this._get('abort').catch(() => {}).then(() => (clearTimeout(timer), cut()));
  }
}

/**
 * The transformer: called by the client it is named in, it checks the
 * transport (the option's, the URL's, both agreeing; a TypeError
 * otherwise), turns off what Vibe does itself (the spec, Primus's ping
 * timeout) and returns what makes a socket from the URL.
 */
export function vibe(client) {
  const o = client.options;
  const q = new URL(client.url).searchParams.get('transport');
  const inUrl = q === null ? null : TRANSPORTS[q];
  if (inUrl === undefined || (o.transport !== undefined && !Object.values(TRANSPORTS).includes(o.transport)))
    throw new TypeError(`unknown Vibe transport "${inUrl === undefined ? q : o.transport}" (ws, httpstream or httplongpoll)`);
  if (inUrl && o.transport !== undefined && inUrl !== o.transport)
    throw new TypeError(`the transport option "${o.transport}" and the URL's transport=${q} disagree`);
  const transport = o.transport || inUrl || 'ws';
  client._specDone = true;
  client._pingTimeout = 0;
  client._pingTimeoutSet = true;
  return (url) => new Vibe(url, transport, client._fetch, client._WebSocket);
}

export { Vibe };
