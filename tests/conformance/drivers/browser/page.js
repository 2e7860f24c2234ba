// The browser driver's page side: weft's browser client (the global Weft of
// clients/js/dist/weft.min.js) run by commands the Node side passes in with
// page.evaluate(); events leave through window.confOut (exposed by the Node
// side). Values use the protocol's encoding (values.js, ConformanceValues).
(function () {
  'use strict';
  const V = window.ConformanceValues;
  const out = (ev) => window.confOut(ev);
  const clients = new Map();
  const replies = new Map();
  let nextReply = 0;

  function fail(code, message) {
    const e = new Error(message);
    e.code = code;
    throw e;
  }

  function ackOut(ref) {
    return (err, value) => {
      if (!err) return out({ ev: 'ack', ref, status: 'resolved', value: V.fromNative(value === undefined ? null : value) });
      const status = { rejected: 'rejected', timeout: 'timeout', closed: 'closed' }[err.kind] || err.kind;
      return out({ ev: 'ack', ref, status, value: status === 'rejected' ? V.fromNative(err.reason) : undefined });
    };
  }

  // The menu of transforms and plugins (README.md; lib/menu.js, shared with the Node driver).
  const { TRANSFORMS, PLUGINS } = window.ConformanceMenu;

  function connect(c) {
    const o = c.options || {};
    for (const k of ['compression', 'headers', 'max_length', 'transformer']) {
      if (o[k] !== undefined && !(k === 'transformer' && /^websockets$/i.test(o[k]))) {
        if (k === 'transformer') fail('EUNSUPPORTED', `the browser client has no transformer ${o[k]}`);
        fail('ECAP', `the browser client cannot ${k}`);
      }
    }
    const opts = { network: false };
    const map = { parser: 'parser', reconnect: 'reconnect', timeout: 'timeout', ping_timeout: 'pingTimeout',
      queue_limit: 'queueLimit', manual: 'manual', batching: 'batching' };
    for (const [k, n] of Object.entries(map)) if (o[k] !== undefined) opts[n] = o[k];
    if (o.strategy !== undefined) opts.strategy = o.strategy === 'none' ? false : o.strategy;
    if (o.emitter) opts.emitter = o.ack_timeout !== undefined ? { timeout: o.ack_timeout } : true;
    const name = c.client;
    for (const t of o.transforms || []) if (!TRANSFORMS[t]) fail('EINVAL', `unknown transform ${t}`);
    for (const p of o.plugins || []) if (!PLUGINS[p]) fail('EINVAL', `unknown plugin ${p}`);
    // Transforms and plugins before the first connection (it starts on the next turn).
    const cl = new Weft(c.url, opts);
    // Channels (the optional module weft-channels.js) first: transforms do not see its packets.
    if (o.channels) {
      cl.use('channels', Weft.channels(o.channel_window ? { window: o.channel_window } : {}));
      cl.on('channel', (ch) => {
        watchChannel(c.client, ch);
        out({ ev: 'channel', client: c.client, channel: ch.name });
      });
    }
    for (const t of o.transforms || []) cl.transform(...TRANSFORMS[t]);
    for (const p of o.plugins || []) cl.use(p, PLUGINS[p]);
    clients.set(name, cl);
    for (const e of ['open', 'close', 'end', 'timeout', 'online', 'offline']) cl.on(e, () => out({ ev: e, client: name }));
    cl.on('data', (v) => out({ ev: 'data', client: name, value: V.fromNative(v) }));
    cl.on('id', (id) => out({ ev: 'id', client: name, id }));
    cl.on('error', (e) => out({ ev: 'error', client: name, code: e.code, kind: e.kind }));
    for (const e of ['reconnect scheduled', 'reconnect', 'reconnected']) {
      cl.on(e, (i) => out({ ev: e.replace(' ', '_'), client: name, attempt: i.attempt, retries: i.retries, delay: i.delay }));
    }
    for (const e of ['reconnect failed', 'reconnect timeout']) {
      cl.on(e, (err, i) => out({ ev: e.replace(' ', '_'), client: name, attempt: i && i.attempt }));
    }
    for (const ev of o.events || []) {
      cl.onEvent(ev, (...args) => {
        const ack = typeof args[args.length - 1] === 'function' ? args.pop() : null;
        const e = { ev: 'event', client: name, name: ev, args: args.map(V.fromNative) };
        if (ack) {
          e.reply = `r${++nextReply}`;
          replies.set(e.reply, ack);
        }
        out(e);
      });
    }
    return {};
  }

  const channels = new Map(); // "client|name" -> the channel
  function watchChannel(name, ch) {
    channels.set(`${name}|${ch.name}`, ch);
    const base = { client: name, channel: ch.name };
    ch.on('data', (v) => out({ ev: 'channel_data', ...base, value: V.fromNative(v) }));
    ch.on('end', () => out({ ev: 'channel_end', ...base }));
    ch.on('drain', () => out({ ev: 'channel_drain', ...base }));
    return ch;
  }
  function channel(c) {
    const cl = client(c);
    if (!cl.channel) fail('ECAP', 'channels are off on this client');
    const ch = channels.get(`${c.client}|${c.channel}`);
    return ch && !ch.ended ? ch : watchChannel(c.client, cl.channel(c.channel));
  }

  function client(c) {
    const cl = clients.get(c.client);
    if (!cl) fail('EINVAL', `no client ${c.client}`);
    return cl;
  }

  const COMMANDS = {
    connect,
    open(c) { client(c).open(); },
    destroy(c) { client(c).destroy(); },
    set_online(c) { client(c).setOnline(!!c.online); },
    client_id(c) { client(c).id(); },
    write(c) { client(c).write(V.toNative(c.value)); },
    write_many(c) {
      const cl = client(c);
      for (const v of c.values) cl.write(V.toNative(v));
    },
    end(c) { client(c).end(c.value === undefined ? undefined : V.toNative(c.value)); },
    emit(c) {
      const cl = client(c);
      const args = (c.args || []).map((a) => V.toNative(a));
      if (!c.ack) return { below: cl.send(c.event, ...args) };
      if (c.timeout === undefined) return { below: cl.send(c.event, ...args, ackOut(c.ref)) };
      cl.request(c.event, args, { timeout: c.timeout }).then((v) => ackOut(c.ref)(null, v), ackOut(c.ref));
      return {};
    },
    client_join(c) {
      const cl = client(c);
      (c.leave ? cl.leave(c.room) : cl.join(c.room)).then(() => ackOut(c.ref)(null, null), ackOut(c.ref));
    },
    reply(c) {
      const ack = replies.get(c.reply);
      if (!ack) fail('EINVAL', `no reply ${c.reply}`);
      replies.delete(c.reply);
      if ('resolve' in c) ack(null, V.toNative(c.resolve));
      else ack(V.toNative(c.reject));
    },
    channel_open(c) { channel(c); },
    channel_write(c) { return { queued: !channel(c).write(V.toNative(c.value)) }; },
    channel_end(c) { channel(c).end(); },
    channel_pause(c) { channel(c).pause(); },
    channel_resume(c) { channel(c).resume(); },
    quit() {
      for (const cl of clients.values()) cl.destroy();
    },
  };

  window.conf = {
    run(c) {
      const fn = COMMANDS[c.cmd];
      if (!fn) fail('ECAP', `the browser client cannot ${c.cmd}`);
      return fn(c) || {};
    },
  };
})();
