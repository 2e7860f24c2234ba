'use strict';
// The conformance driver of the Node host (tests/conformance/README.md):
// weft servers and clients through require('weft') (node/, its README and
// index.d.ts), controlled by JSON lines on stdin, reporting JSON lines on
// stdout. Every event comes from the Node API (EventEmitter events, ack
// callbacks), never from the C core underneath.
const path = require('node:path');
const readline = require('node:readline');
const weft = require(path.resolve(__dirname, '..', '..', '..', '..', 'node'));
const V = require('../../lib/values');

const CAPS = [
  'server', 'client', 'parser.msgpack', 'parser.raw', 'authorize', 'server.transform.in',
  'server.transform.out', 'server.plugin', 'emitter', 'rooms', 'rooms.client', 'channels', 'batching',
  'queue', 'drain', 'spark.enumerate', 'origins', 'trusted_proxies', 'compression', 'client.manual',
  'client.destroy', 'client.set_online', 'client.id', 'client.headers', 'client.emitter',
  'client.channels', 'client.batching', 'client.max_length', 'client.http_status', 'values',
  'values.int64.json', 'values.binary', 'id_generator', 'static_files', 'serve_client', 'client.compression',
  'client.transform.in', 'client.transform.out', 'client.plugin',
];

const out = (ev) => process.stdout.write(`${JSON.stringify(ev)}\n`);
const native = (w) => V.toNative(w, (u8) => Buffer.from(u8));
const wire = (v) => V.fromNative(v);

const servers = new Map(); // name -> { s, sparks: Map(id -> spark), echo }
const clients = new Map(); // name -> Client
const channels = new Map(); // "obj|spark|name" -> Channel
const replies = new Map(); // ref -> ack function
let nextReply = 1;

class Cap extends Error {
  constructor(what) {
    super(`the Node host cannot ${what}`);
    this.code = 'ECAP';
  }
}

// ---- the fixed menu of transforms and plugins (README.md "Menu"; lib/menu.js) --
const { TRANSFORMS, PLUGINS } = require('../../lib/menu');
const ID_GENERATORS = {
  counter() { let n = 0; return () => `conf-${++n}`; },
};

function about(obj, spark) {
  return spark ? { server: obj, spark: spark.id } : { client: obj };
}

function watchEvents(target, obj, spark, names) {
  for (const name of names || []) {
    target.on(name, (...args) => {
      const ack = typeof args[args.length - 1] === 'function' ? args.pop() : null;
      const ev = { ev: 'event', ...about(obj, spark), name, args: args.map(wire) };
      if (ack) {
        ev.reply = `r${nextReply++}`;
        replies.set(ev.reply, ack);
      }
      out(ev);
    });
  }
}

function watchChannel(ch, obj, spark) {
  const key = `${obj}|${spark ? spark.id : ''}|${ch.name}`;
  channels.set(key, ch);
  const base = { ...about(obj, spark), channel: ch.name };
  ch.on('data', (v) => out({ ev: 'channel_data', ...base, value: wire(v) }));
  ch.on('end', () => out({ ev: 'channel_end', ...base }));
  ch.on('drain', () => out({ ev: 'channel_drain', ...base }));
  ch.on('error', (e) => out({ ev: 'error', ...base, code: e.code, kind: e.kind }));
  return ch;
}

function serve(c) {
  const o = c.options || {};
  const opts = { listen: [c.url || 'ws://127.0.0.1:0/primus'] };
  const map = { parser: 'parser', transformer: 'transformer', max_length: 'maxLength', compression: 'compression',
    high_water_mark: 'highWaterMark', max_queue: 'maxQueue', queue_policy: 'queuePolicy', origins: 'origins',
    trusted_proxies: 'trustedProxies', batching: 'batching', rooms: 'rooms', static_dir: 'staticDir',
    serve_client: 'clientLibrary' };
  for (const [k, n] of Object.entries(map)) if (o[k] !== undefined) opts[n] = o[k];
  if (o.ping_interval !== undefined) opts.pingInterval = o.ping_interval || false;
  if (o.emitter) opts.emitter = o.ack_timeout !== undefined ? { timeout: o.ack_timeout } : true;
  if (o.channels) opts.channels = o.channel_window ? { window: o.channel_window } : true;
  if (o.id_generator !== undefined) {
    if (!ID_GENERATORS[o.id_generator]) throw new Error(`unknown id generator ${o.id_generator}`);
    opts.idGenerator = ID_GENERATORS[o.id_generator]();
  }
  const s = new weft.Server(opts);
  if (o.asset) s.addAsset(o.asset.path, o.asset.type, o.asset.text);
  const rec = { s, sparks: new Map() };
  servers.set(c.server, rec);
  const name = c.server;
  if (o.authorize) {
    const a = o.authorize;
    s.authorize((req, done) => {
      if (req.query[a.query] === a.equals) return done();
      return done(Object.assign(new Error(a.message), { statusCode: a.status }));
    });
  }
  for (const t of o.transforms || []) {
    if (!TRANSFORMS[t]) throw new Error(`unknown transform ${t}`);
    s.transform(...TRANSFORMS[t]);
  }
  for (const p of o.plugins || []) s.use(p, PLUGINS[p]);
  if (o.rooms_policy) s.roomsPolicy((spark, room) => room.startsWith(o.rooms_policy.allow_prefix));
  s.on('connection', (spark) => {
    rec.sparks.set(spark.id, spark);
    out({ ev: 'connection', server: name, spark: spark.id });
    spark.on('data', (v) => {
      out({ ev: 'data', server: name, spark: spark.id, value: wire(v) });
      if (o.echo) spark.write(v);
    });
    spark.on('drain', () => out({ ev: 'drain', server: name, spark: spark.id }));
    watchEvents(spark, name, spark, o.events);
  });
  s.on('disconnection', (spark) => out({ ev: 'disconnection', server: name, spark: spark.id }));
  s.on('error', (err, spark) => out({ ev: 'error', server: name, spark: spark ? spark.id : undefined,
    code: err.code, kind: err.kind }));
  s.on('close', () => out({ ev: 'close', server: name }));
  if (o.channels) s.on('channel', (ch, spark) => {
    watchChannel(ch, name, spark);
    out({ ev: 'channel', server: name, spark: spark.id, channel: ch.name });
  });
  out({ ev: 'listening', server: name, url: s.url });
  return { url: s.url };
}

function connect(c) {
  const o = c.options || {};
  const opts = {};
  const map = { parser: 'parser', transformer: 'transformer', reconnect: 'reconnect', timeout: 'timeout',
    ping_timeout: 'pingTimeout', max_length: 'maxLength', queue_limit: 'queueSize', retry_refused: 'retryRefused',
    headers: 'headers', manual: 'manual', batching: 'batching', compression: 'compression' };
  for (const [k, n] of Object.entries(map)) if (o[k] !== undefined) opts[n] = o[k];
  if (o.strategy !== undefined) opts.strategy = o.strategy === 'none' ? false : o.strategy;
  if (o.emitter) opts.emitter = o.ack_timeout !== undefined ? { timeout: o.ack_timeout } : true;
  if (o.channels) opts.channels = o.channel_window ? { window: o.channel_window } : true;
  // Transforms and plugins before the first connection: the client connects
  // on the next tick (or at open() with manual).
  const cl = new weft.Client(c.url, opts);
  for (const t of o.transforms || []) {
    if (!TRANSFORMS[t]) throw new Error(`unknown transform ${t}`);
    cl.transform(...TRANSFORMS[t]);
  }
  for (const p of o.plugins || []) cl.use(p, PLUGINS[p]);
  const name = c.client;
  clients.set(name, cl);
  const plain = ['open', 'close', 'end', 'timeout', 'online', 'offline'];
  for (const e of plain) cl.on(e, () => out({ ev: e, client: name }));
  cl.on('data', (v) => out({ ev: 'data', client: name, value: wire(v) }));
  cl.on('error', (e) => out({ ev: 'error', client: name, code: e.code, kind: e.kind, status: e.statusCode, body: e.body }));
  for (const e of ['reconnect scheduled', 'reconnect', 'reconnected']) {
    cl.on(e, (i) => out({ ev: e.replace(' ', '_'), client: name, attempt: i.attempt, retries: i.retries, delay: i.scheduled }));
  }
  for (const e of ['reconnect failed', 'reconnect timeout']) {
    cl.on(e, (err, i) => out({ ev: e.replace(' ', '_'), client: name, attempt: i && i.attempt }));
  }
  watchEvents(cl, name, null, o.events);
  if (o.channels) cl.on('channel', (ch) => {
    watchChannel(ch, name, null);
    out({ ev: 'channel', client: name, channel: ch.name });
  });
  return {};
}

function server(c) {
  const rec = servers.get(c.server);
  if (!rec) throw new Error(`no server ${c.server}`);
  return rec;
}
function spark(c) {
  const sp = server(c).sparks.get(c.spark);
  if (!sp) throw new Error(`no spark ${c.spark}`);
  return sp;
}
function target(c) {
  if (c.server !== undefined) return spark(c);
  const cl = clients.get(c.client);
  if (!cl) throw new Error(`no client ${c.client}`);
  return cl;
}
function channel(c) {
  const key = `${c.server !== undefined ? c.server : c.client}|${c.spark || ''}|${c.channel}`;
  let ch = channels.get(key);
  if (!ch) {
    const t = target(c);
    ch = watchChannel(t.channel(c.channel), c.server !== undefined ? c.server : c.client, c.server !== undefined ? t : null);
  }
  return ch;
}

function ackCallback(ref) {
  return (err, value) => {
    if (!err) return out({ ev: 'ack', ref, status: 'resolved', value: wire(value) });
    const status = { EREJECTED: 'rejected', ETIMEDOUT: 'timeout', ECLOSED: 'closed' }[err.code] || err.code;
    return out({ ev: 'ack', ref, status, value: status === 'rejected' ? wire(err.reason) : undefined });
  };
}

const COMMANDS = {
  serve,
  connect,
  close(c) {
    server(c).s.destroy({ reconnect: !!c.reconnect, timeout: c.timeout });
  },
  open: (c) => { target(c).open(); },
  destroy: (c) => { target(c).destroy(); },
  set_online: (c) => { target(c).setOnline(!!c.online); },
  client_id(c) {
    target(c).id((id) => out({ ev: 'id', client: c.client, id }));
  },
  write(c) {
    // A closed Spark's write() is false, as Primus's: the core said ECLOSED.
    const t = target(c);
    const below = t.write(native(c.value));
    if (!below && c.server !== undefined && t.readyState === weft.Spark.CLOSED) {
      throw Object.assign(new Error('the spark is closed'), { code: 'ECLOSED' });
    }
    return { below };
  },
  write_many(c) {
    const t = target(c);
    for (const v of c.values) t.write(native(v));
  },
  broadcast: (c) => ({ count: server(c).s.write(native(c.value)) }),
  flood(c) {
    const sp = spark(c);
    const payload = 'x'.repeat(c.size);
    let writes = 0;
    let full = false;
    try {
      while (writes < c.max) {
        writes++;
        if (!sp.write(payload)) {
          full = true;
          if (c.until !== 'error') break;
        }
      }
    } catch (e) {
      return { writes, full: true, code: e.code };
    }
    return { writes, full };
  },
  end(c) {
    const t = target(c);
    if (c.server !== undefined) t.end(c.value === undefined ? undefined : native(c.value), { reconnect: !!c.reconnect });
    else t.end(c.value === undefined ? undefined : native(c.value));
  },
  spark_info(c) {
    const sp = spark(c);
    const r = { spark: sp.id, address: sp.address.ip, headers: {}, query: {} };
    for (const h of c.headers || []) r.headers[h] = sp.headers[h.toLowerCase()];
    for (const q of c.query || []) r.query[q] = sp.query[q];
    if (c.all) Object.assign(r, { headers: { ...sp.headers }, query: { ...sp.query } });
    return r;
  },
  emit(c) {
    const t = target(c);
    const args = (c.args || []).map(native);
    if (c.ack) {
      if (c.timeout !== undefined) {
        t.request(c.event, args, { timeout: c.timeout }).then((v) => ackCallback(c.ref)(null, v), ackCallback(c.ref));
        return {};
      }
      return { below: t.send(c.event, ...args, ackCallback(c.ref)) };
    }
    return { below: t.send(c.event, ...args) };
  },
  emit_all: (c) => ({ count: server(c).s.send(c.event, ...(c.args || []).map(native)) }),
  reply(c) {
    const ack = replies.get(c.reply);
    if (!ack) throw new Error(`no reply ${c.reply}`);
    replies.delete(c.reply);
    if ('resolve' in c) ack.resolve(native(c.resolve));
    else ack.reject(native(c.reject));
  },
  join(c) { spark(c).join(c.room); },
  leave(c) { spark(c).leave(c.room); },
  client_join(c) {
    const t = target(c);
    t[c.leave ? 'leave' : 'join'](c.room, (err) => ackCallback(c.ref)(err, null));
  },
  room_write: (c) => ({ count: server(c).s.to(...c.rooms).except(...(c.except || [])).write(native(c.value)) }),
  room_emit: (c) => ({
    count: server(c).s.to(...c.rooms).except(...(c.except || [])).send(c.event, ...(c.args || []).map(native)),
  }),
  channel_open(c) { channel(c); },
  channel_write(c) {
    // Node's backpressure signal is its Writable's: write() says false only
    // past the stream's high-water mark; a message waiting for credit is one
    // C holds (queued) or one Node keeps while C holds the one before it.
    const ch = channel(c);
    ch.write(native(c.value));
    return { queued: ch.queued > 0 || ch.writableLength > 0 };
  },
  channel_end(c) { channel(c).end(); },
  channel_pause(c) { channel(c).pause(); },
  channel_resume(c) { channel(c).resume(); },
  quit() {
    for (const { s } of servers.values()) s.destroy({ timeout: 200 });
    for (const cl of clients.values()) cl.destroy();
    setTimeout(() => process.exit(0), 300).unref();
    process.stdin.destroy();
  },
};

function handle(c) {
  const fn = COMMANDS[c.cmd];
  if (!fn) return out({ id: c.id, ok: false, code: 'ECAP', message: `unknown command ${c.cmd}` });
  try {
    out({ ...(fn(c) || {}), id: c.id, ok: true });
  } catch (e) {
    out({ id: c.id, ok: false, code: e.code || e.name, message: e.message });
  }
}

// A handler's exception is a finding, not a crash: report it and go on.
process.on('uncaughtException', (e) => out({ ev: 'driver_error', message: String(e && e.stack || e) }));
out({ ev: 'hello', protocol: 1, host: 'node', caps: CAPS, pid: process.pid });
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim()) handle(JSON.parse(line));
});
