'use strict';
//
// Options come from the core's tables (include/weft/options.h,
// weft_server_option_at / weft_client_option_at): every row is an option
// here under its camelCase name (ping_interval: pingInterval), set through
// the core (weft_server_set_option), which checks type, range and choices
// once for every host. This file adds only Node's translation — Primus's
// spellings and shapes (pingInterval: false, reconnect: { min, max },
// tls: { cert, key }) — and the options only a host has (port, listen,
// plugin, idGenerator, logLevel, ...). Unknown keys are kept, as Primus
// keeps them (plugins read their own options from primus.options): they are
// not the core's, and one within edit distance 2 of an option is a warning
// naming the option meant; `strict: true` makes any unknown key a TypeError
// (decision #33). index.d.ts's option
// interfaces are generated from the same data (scripts/options-dts.js;
// test/options.test.js fails when they differ).
//
const binding = require('./binding');
const { WeftError, errorInfo } = require('./errors');

const camel = (s) => s.replace(/_([a-z])/g, (m, c) => c.toUpperCase());

/** The core's rows for 'server' or 'client', named the Node way (frozen). */
function coreTable(kind) {
  return Object.freeze(binding.optionTable(kind).map((r) => Object.freeze({
    name: camel(r.name),
    coreName: r.name,
    type: r.type, // bool, uint, number, string, enum, strings, headers
    default: JSON.parse(r.def),
    choices: r.choices ? Object.freeze(r.choices.split('|')) : null,
    min: r.min,
    max: r.max,
    unit: r.unit,
    expects: r.expects,
    doc: r.doc,
    fixed: r.fixed,
    extension: r.extension
  })));
}

const TABLES = { Server: coreTable('server'), Client: coreTable('client') };

const lower = (v) => (typeof v === 'string' ? v.toLowerCase() : v);
const falseIsZero = (v) => (v === false ? 0 : v);
const batching = (v) => (v === true ? 16384 : v === false ? 0 : v);
// `true` or `{ timeout }` (`{ window }`): the extension on, and its tuning.
const extension = (tuning, key) => (v, set) => {
  if (v === null || typeof v !== 'object') return v;
  if (v[key] !== undefined) set(tuning, v[key]);
  return true;
};

/*
 * Node's side of the core's options: `ts` is the TypeScript type where
 * Node takes more than the core's type, `to(value, set)` the translation
 * into the core's value (set(name, v) sets another option), `note` what the
 * translation adds to the docs.
 */
const NODE = {
  Server: {
    transformer: { ts: 'TransformerName', to: lower, note: 'in any case, as Primus\'s' },
    parser: { ts: 'ParserName | Uppercase<ParserName> | PrimusParser', to: lower, note: 'or a Primus parser object' },
    pingInterval: { ts: 'number | false', to: falseIsZero, note: 'false: 0' },
    origins: {
      ts: 'string | readonly string[]',
      to: (v) => (typeof v === 'string' ? v.split(',').map((o) => o.trim()).filter(Boolean) : v),
      note: 'or one comma-separated string'
    },
    trustedProxies: { ts: 'readonly string[]' },
    batching: { ts: 'boolean | number', to: batching, note: 'true: 16384' },
    emitter: { ts: 'boolean | { timeout?: number }', to: extension('ackTimeout', 'timeout'), note: '{ timeout }: with ackTimeout' },
    channels: { ts: 'boolean | { window?: number }', to: extension('channelWindow', 'window'), note: '{ window }: with channelWindow' }
  },
  Client: {
    transformer: { ts: 'TransformerName', to: lower, note: 'in any case, as Primus\'s' },
    parser: { ts: 'ParserName | Uppercase<ParserName> | PrimusParser', to: lower, note: 'or a Primus parser object' },
    strategy: {
      ts: 'string | readonly string[] | false',
      to: (v) => (v === false ? '' : Array.isArray(v) ? v.join(',') : v),
      note: 'a list, or false for none'
    },
    timeout: { ts: 'number | false', to: falseIsZero, note: 'false: 0' },
    pingTimeout: { ts: 'number | false', to: falseIsZero, note: 'false: 0' },
    headers: {
      ts: 'Record<string, string | number>',
      to: (v) => (v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)])) : v)
    },
    batching: { ts: 'boolean | number', to: batching, note: 'true: 16384' },
    emitter: { ts: 'boolean | { timeout?: number }', to: extension('ackTimeout', 'timeout'), note: '{ timeout }: with ackTimeout' },
    channels: { ts: 'boolean | { window?: number }', to: extension('channelWindow', 'window'), note: '{ window }: with channelWindow' }
  }
};

const none = () => undefined;
const STRICT_DOC = 'An unknown option is a TypeError (with "did you mean"). By default it is kept in options for ' +
  'plugins, as Primus keeps it, and one close to a known name is a warning (WEFT_UNKNOWN_OPTION).';

/*
 * The options only Node has (the core has no row for them): `ts` and `doc`
 * for index.d.ts, and `to(value, set)` for those that are the core's options
 * in another shape. The constructors read the rest themselves.
 */
const HOST = {
  Server: {
    port: { ts: 'number | string', doc: 'TCP port; 0 picks a free one. Default 8080. Not with `listen`.' },
    host: { ts: 'string', doc: 'Bind address, default "0.0.0.0". Not with `listen`.' },
    hostname: { ts: 'string', doc: 'Primus\'s name of `host`.' },
    pathname: { ts: 'string', doc: 'Default "/primus"; "/" serves every path. Not with `listen`.' },
    listen: {
      ts: 'string | readonly string[]',
      doc: 'Whole URLs to listen on instead of port/host/pathname (a TypeError with them), one listener each: ' +
        '"ws://127.0.0.1:0/primus", "wss://…" (with TLS), "ws+unix:///abs/app.sock:/primus" (a Unix-domain socket: ' +
        'the socket\'s path, \':\', the request path), "wss+unix://…". A URL without a path serves "/primus"; ' +
        '"ws://h:p/" serves every path.'
    },
    tls: {
      ts: '{ cert: string; key: string }',
      doc: 'PEM files for wss://: the pair of tlsCert and tlsKey.',
      to: (v, set) => {
        if (v === null || typeof v !== 'object') throw new TypeError('tls must be { cert, key } (PEM file paths)');
        set('tlsCert', v.cert);
        set('tlsKey', v.key);
      }
    },
    plugin: { ts: 'Record<string, Plugin>', doc: 'Plugins to register, by name (as use()).' },
    streams: {
      ts: 'boolean',
      doc: 'Binary streams (fast-tcp\'s stream(event, info, ack); needs `emitter`): \'stream\' events with a Readable, ' +
        'spark.stream() a Writable. Writes wait while the connection holds highWaterMark bytes.'
    },
    psk: {
      ts: 'string | Buffer',
      doc: 'A pre-shared key tcp:// and ipc:// clients must prove (weft\'s HMAC-SHA256 handshake, docs/fasttcp.md); 1 to 256 bytes.'
    },
    idGenerator: {
      ts: '(this: Server) => string',
      doc: 'Spark ids: a function returning a string of 1 to 62 bytes not taken by an open spark; anything else ' +
        '(or a throw) gives the default id (21 random characters).'
    },
    handlerErrors: {
      ts: "'uncaughtException' | 'close'",
      doc: 'What an exception thrown by a handler weft calls does: \'uncaughtException\' (default) lets it reach ' +
        'process \'uncaughtException\', as any Node callback\'s; \'close\' closes that spark with 1011 and emits ' +
        '\'error\' (kind "handler", code "EHANDLER", cause: the exception).'
    },
    logLevel: { ts: 'LogLevel', doc: 'Records up to this level become \'log\' events (when listened to); \'info\' by default.' },
    strict: { ts: 'boolean', doc: STRICT_DOC },
    // Primus's, with nothing for weft to do: accepted so that a Primus app
    // switches with one line.
    iknowhttpsisbetter: { ts: 'boolean', doc: 'Primus\'s; nothing to do here (accepted for the one-line switch).', to: none },
    iknowclusterwillbreakconnections: { ts: 'boolean', doc: 'Primus\'s; nothing to do here.', to: none },
    global: { ts: 'string', doc: 'Primus\'s: the global name library() gives the client ("Primus" by default).', to: none }
  },
  Client: {
    reconnect: {
      ts: 'ReconnectOptions',
      doc: 'Primus\'s backoff: { min, max, retries, factor } (reconnectMin, reconnectMax, retries, factor; ' +
        'max: Infinity is no limit).',
      to: (v, set) => {
        if (v === null || typeof v !== 'object') throw new TypeError('reconnect must be { min, max, retries, factor }');
        if (v.min !== undefined) set('reconnectMin', v.min);
        if (v.max !== undefined) set('reconnectMax', v.max === Infinity ? 0 : v.max);
        if (v.retries !== undefined) set('retries', v.retries);
        if (v.factor !== undefined) set('factor', v.factor);
      }
    },
    manual: { ts: 'boolean', doc: 'Do not connect until open() is called.' },
    streams: {
      ts: 'boolean',
      doc: 'Binary streams (fast-tcp\'s stream(event, info, ack); needs `emitter`): \'stream\' events with a Readable, ' +
        'client.stream() a Writable. Writes wait while the connection holds 1 MiB.'
    },
    psk: {
      ts: 'string | Buffer',
      doc: 'The pre-shared key a tcp:// or ipc:// server asks for; a wrong one ends in an \'error\' (status 401), no reconnect.'
    },
    websockets: {
      ts: 'boolean',
      doc: 'Primus\'s: false avoids WebSocket (engine.io polls only, transports "polling").',
      to: (v, set) => { if (v === false) set('transports', 'polling'); }
    },
    pathname: {
      ts: 'string',
      doc: 'Primus\'s: the request path, in place of the URL\'s (its query kept); a server\'s Socket has the ' +
        'server\'s pathname.'
    },
    queueSize: {
      ts: 'number',
      doc: 'Primus\'s name of queueLimit (Infinity: no limit).',
      to: (v, set) => set('queueLimit', v === Infinity ? 0 : v)
    },
    transport: {
      ts: "'ws' | 'httpstream' | 'httplongpoll' | { headers?: Record<string, string | number> }",
      doc: 'A string: Vibe\'s transport (transformer "vibe"), the core\'s option "transport": "ws" (default), ' +
        '"httpstream" or "httplongpoll"; the URL\'s ?transport=stream|longpoll may say it instead, and with both ' +
        'they must agree (else EINVAL). An object: Primus\'s place for headers, transport.headers (merged under ' +
        'headers).',
      to: (v, set, all) => {
        if (typeof v === 'string') return set('transport', v, true);
        if (v && v.headers) set('headers', NODE.Client.headers.to(Object.assign({}, v.headers, all.headers)), true);
      }
    },
    ca: { ts: 'string', doc: 'Node\'s name of caFile.', to: (v, set) => set('caFile', v) },
    rejectUnauthorized: { ts: 'boolean', doc: 'Node\'s name of verify.', to: (v, set) => set('verify', v) },
    plugin: { ts: 'Record<string, Plugin>', doc: 'Plugins to register, by name (as use()).' },
    logLevel: { ts: 'LogLevel', doc: 'Records up to this level become \'log\' events (when listened to); \'info\' by default.' },
    strict: { ts: 'boolean', doc: STRICT_DOC }
  }
};

const KNOWN = {};
for (const kind of ['Server', 'Client']) KNOWN[kind] = [...Object.keys(HOST[kind]), ...TABLES[kind].map((r) => r.name)];

// Edit distance, for the "did you mean" of a misspelt name.
function distance(a, b) {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

/**
 * Checks an options object: a TypeError when it is not one; an unknown key
 * is kept (plugins read theirs), a warning when it is close to a known name,
 * a TypeError with `strict: true`. Known keys' types are the core's to check.
 */
function check(options, kind, quiet) {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`${kind} options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const known = KNOWN[kind];
  if (options.strict !== undefined && typeof options.strict !== 'boolean') {
    throw new TypeError(`${kind} option "strict" must be a boolean (got ${describe(options.strict)})`);
  }
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    // Close: within edit distance 2, both names of 4 characters or more (a
    // plugin's "foo" is not a misspelt "ca").
    let near = null;
    for (const name of known) {
      const d = key.length < 4 || name.length < 4 ? Infinity : distance(key.toLowerCase(), name.toLowerCase());
      if (d <= 2 && (near === null || d < near.d)) near = { name, d };
    }
    const text = `unknown ${kind} option "${key}"`;
    if (options.strict) throw new TypeError(text + (near ? ` (did you mean "${near.name}"?)` : ` (known: ${known.join(', ')})`));
    if (near && !quiet) {
      process.emitWarning(`${text} (did you mean "${near.name}"?); kept in options for plugins, not used by weft`,
        { type: 'WeftWarning', code: 'WEFT_UNKNOWN_OPTION' });
    }
  }
  return options;
}

const describe = (v) => {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (v === null || typeof v !== 'object') return String(v);
  try { return JSON.stringify(v); } catch (e) { return Object.prototype.toString.call(v); }
};

/** EUNSUPPORTED: "unknown transformer 'sockjs' (available: websockets)". */
function unknownTransformer(name) {
  return new WeftError(`unknown transformer '${name}' (available: ${binding.transformers().join(', ')})`, 'EUNSUPPORTED');
}

/** The error of a refused option: TypeError (ETYPE), RangeError (ERANGE), else a WeftError. */
function optionError(kind, row, value, rc) {
  const [code, text] = errorInfo(rc);
  let err;
  if (code === 'EUNSUPPORTED' && row.coreName === 'transformer') {
    err = unknownTransformer(value);
  } else if (code === 'ETYPE' || code === 'ERANGE') {
    const E = code === 'ETYPE' ? TypeError : RangeError;
    err = new E(`${kind} option "${row.name}" must be ${row.expects} (got ${describe(value)})`);
    err.code = code;
  } else {
    const must = code === 'EINVAL' ? ` (must be ${row.expects})` : '';
    err = new WeftError(`${kind} option "${row.name}" (${describe(value)}): ${text}${must}`, code);
  }
  return err;
}

/**
 * Sets the user's options on a new handle through the core, in the table's
 * order (extensions before their tunings). Returns { emitter, rooms,
 * channels }: the extensions now on.
 */
function apply(kind, ext, options) {
  const table = TABLES[kind];
  const byName = new Map(table.map((r) => [r.name, r]));
  const values = new Map(); // row -> the core's value
  // Unknown keys (a plugin's) stay in options, out of the core.
  const given = new Set(Object.keys(options).filter((k) => options[k] !== undefined && KNOWN[kind].includes(k)));
  const set = (name, v, merged) => {
    const row = byName.get(name);
    if (!merged && given.has(name)) throw new TypeError(`${kind} options: give ${name} once (it is set by another option too)`);
    if (v !== undefined) values.set(row, v);
  };
  const keys = [...given];
  for (const key of keys.filter((k) => !HOST[kind][k])) {
    const node = NODE[kind][key];
    const out = node && node.to ? node.to(options[key], set) : options[key];
    if (out !== undefined) values.set(byName.get(key), out);
  }
  for (const key of keys.filter((k) => HOST[kind][k] && HOST[kind][k].to)) HOST[kind][key].to(options[key], set, options);
  const setOption = kind === 'Server' ? binding.serverSetOption : binding.clientSetOption;
  for (const row of table) {
    if (!values.has(row)) continue;
    const v = values.get(row);
    const rc = setOption(ext, row.coreName, v);
    if (rc < 0) throw optionError(kind, row, v, rc);
  }
  const on = (name) => values.get(byName.get(name)) === true;
  // redis turns rooms (and so the emitter) on: a cluster's rooms are these.
  const rooms = on('rooms') || (byName.has('redis') && typeof values.get(byName.get('redis')) === 'string');
  return { emitter: on('emitter') || rooms, rooms, channels: on('channels') };
}

module.exports = {
  TABLES,
  NODE,
  HOST,
  /** Checks Server options (see check()). */
  checkServer: (options) => check(options, 'Server'),
  /** Checks Client options (see check()); quiet: no warnings (createSocket's defaults, checked again merged). */
  checkClient: (options, quiet) => check(options, 'Client', quiet),
  unknownTransformer,
  applyServer: (ext, options) => apply('Server', ext, options),
  applyClient: (ext, options) => apply('Client', ext, options)
};
