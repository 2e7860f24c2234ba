'use strict';
//
// Shared helpers of the interop suite: which test server to run, spawning it
// and reading its stdout line protocol, the official Primus client, and
// cleanup. Every child process started here is tracked by PID and killed by
// that PID only (on stop(), on test teardown, and as a last resort when the
// test process exits).
//
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const readline = require('node:readline');
const { isDeepStrictEqual } = require('node:util');

const INTEROP_DIR = path.resolve(__dirname, '..');
const REFERENCE_SERVER = path.join(INTEROP_DIR, 'primus_server.js');
const HOST = '127.0.0.1';
// How long a server may take to print its `listening on` line.
const READY_TIMEOUT = Number(process.env.WEFT_INTEROP_READY_MS) ||
  (process.env.WEFT_TEST_SERVER_WRAPPER && process.env.PRIMUS_REF !== '1' ? 30000 : 5000);

// ---------------------------------------------------------------------------
// Server selection.
//
// WEFT_TEST_SERVER=<path to executable>  -> that binary (weft's test server)
// unset, or PRIMUS_REF=1                 -> node primus_server.js (Primus 8)
// ---------------------------------------------------------------------------
const IS_REFERENCE = process.env.PRIMUS_REF === '1' || !process.env.WEFT_TEST_SERVER;

function serverCommand() {
  if (IS_REFERENCE) {
    return { file: process.execPath, args: [REFERENCE_SERVER], name: 'primus-reference' };
  }
  const file = path.resolve(process.env.WEFT_TEST_SERVER);
  try {
    fs.accessSync(file, fs.constants.X_OK);
  } catch (e) {
    throw new Error(`WEFT_TEST_SERVER=${process.env.WEFT_TEST_SERVER}: not an executable file (${e.code})`);
  }
  // WEFT_TEST_SERVER_WRAPPER="valgrind --quiet ..." runs the binary under a
  // wrapper that keeps the PID (valgrind does: signals reach the server).
  const wrapper = (process.env.WEFT_TEST_SERVER_WRAPPER || '').trim().split(/\s+/).filter(Boolean);
  if (wrapper.length) return { file: wrapper[0], args: [...wrapper.slice(1), file], name: path.basename(file) };
  return { file, args: [], name: path.basename(file) };
}

const SERVER_NAME = IS_REFERENCE ? 'primus-reference' : path.basename(process.env.WEFT_TEST_SERVER);

/**
 * Options for node:test to skip a test only when running against the Primus
 * reference (for documented Primus-only divergences from weft's requirements).
 */
function skipOnReference(reason) {
  return IS_REFERENCE ? `Primus reference diverges: ${reason}` : false;
}

// ---------------------------------------------------------------------------
// Process tracking: kill only what we started, by PID.
// ---------------------------------------------------------------------------
const live = new Map(); // pid -> ChildProcess

process.on('exit', () => {
  for (const pid of live.keys()) {
    try { process.kill(pid, 'SIGKILL'); } catch (e) { /* already gone */ }
  }
});

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    })
  ]).finally(() => clearTimeout(timer));
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Poll until fn() is truthy (resolves with its value) or time out. */
async function waitUntil(fn, timeout, what, every = 20) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeout} ms: ${what}`);
    await delay(every);
  }
}

// Per-test cleanup stack, run last-in first-out from a single t.after(), so
// clients are closed before the server they talk to is stopped.
const cleanupStacks = new WeakMap();
function defer(t, fn) {
  if (!t) return;
  let stack = cleanupStacks.get(t);
  if (!stack) {
    stack = [];
    cleanupStacks.set(t, stack);
    t.after(async () => {
      while (stack.length) {
        try { await stack.pop()(); } catch (e) { /* best effort */ }
      }
    });
  }
  stack.push(fn);
}

class TestServer {
  constructor(child, args) {
    this.child = child;
    this.pid = child.pid;
    this.args = args;
    this.lines = [];          // every stdout line, in order
    this.stderr = '';
    this.waiters = [];        // { re, from, resolve }
    this.exitInfo = null;
    this.url = null;
    this.host = null;
    this.port = null;
    this.path = null;

    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        live.delete(this.pid);
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
        for (const w of this.waiters.splice(0)) w.reject(this.deathError());
      });
    });

    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const index = this.lines.push(line) - 1;
      if (process.env.WEFT_INTEROP_VERBOSE) process.stderr.write(`[server ${this.pid}] ${line}\n`);
      this.waiters = this.waiters.filter((w) => {
        if (index < w.from) return true;
        const m = w.re.exec(line);
        if (!m) return true;
        w.resolve({ line, match: m, index });
        return false;
      });
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => {
      this.stderr = (this.stderr + d).slice(-8192);
      if (process.env.WEFT_INTEROP_VERBOSE) process.stderr.write(d);
    });
  }

  deathError() {
    const info = this.exitInfo || {};
    return new Error(`test server ${this.pid} exited (code ${info.code}, signal ${info.signal}); ` +
      `args ${JSON.stringify(this.args)}; stderr: ${this.stderr.trim().slice(-2000)}`);
  }

  alive() {
    return this.exitInfo === null;
  }

  /** Index that the next stdout line will get (use as `from` to wait for new lines). */
  mark() {
    return this.lines.length;
  }

  /**
   * Resolve with { line, match, index } for the first stdout line at index >=
   * from that matches re (already printed lines count too).
   */
  waitForLine(re, { from = 0, timeout = 5000 } = {}) {
    for (let i = from; i < this.lines.length; i++) {
      const m = re.exec(this.lines[i]);
      if (m) return Promise.resolve({ line: this.lines[i], match: m, index: i });
    }
    if (!this.alive()) return Promise.reject(this.deathError());
    let waiter;
    const p = new Promise((resolve, reject) => {
      waiter = { re, from, resolve, reject };
      this.waiters.push(waiter);
    });
    return withTimeout(p, timeout, `server line ${re} (lines so far: ${JSON.stringify(this.lines.slice(-10))})`)
      .finally(() => { this.waiters = this.waiters.filter((w) => w !== waiter); });
  }

  linesMatching(re, from = 0) {
    return this.lines.slice(from).filter((l) => re.test(l));
  }

  signal(sig) {
    if (!this.alive()) return;
    try { process.kill(this.pid, sig); } catch (e) { /* raced with exit */ }
  }

  /** SIGKILL and wait for the exit. */
  async kill() {
    this.signal('SIGKILL');
    return this.exited;
  }

  /**
   * Graceful stop: SIGTERM, wait up to `timeout` ms, then SIGKILL. Resolves
   * with { code, signal } of the exit.
   */
  async stop({ timeout = 3000 } = {}) {
    if (!this.alive()) return this.exitInfo;
    this.signal('SIGTERM');
    try {
      return await withTimeout(this.exited, timeout, `server ${this.pid} exit after SIGTERM`);
    } catch (e) {
      this.signal('SIGKILL');
      await this.exited;
      throw e;
    }
  }
}

/**
 * Start the selected test server and wait for its `listening on` line.
 *
 * opts: parser, port, path, pingInterval, maxLength, auth, extraArgs,
 *       readyTimeout. With `t` (a node:test context) the server is stopped
 *       in t.after().
 */
async function startServer(t, opts = {}) {
  const cmd = serverCommand();
  const args = [...cmd.args, '--host', HOST];
  if (opts.port !== undefined) args.push('--port', String(opts.port));
  else args.push('--port', '0');
  if (opts.path !== undefined) args.push('--path', opts.path);
  if (opts.parser !== undefined) args.push('--parser', opts.parser);
  if (opts.pingInterval !== undefined) args.push('--ping-interval', String(opts.pingInterval));
  if (opts.maxLength !== undefined) args.push('--max-length', String(opts.maxLength));
  if (opts.auth !== undefined) args.push('--auth', opts.auth);
  if (opts.transformer && opts.transformer !== 'websockets') args.push('--transformer', opts.transformer);
  if (opts.extraArgs) args.push(...opts.extraArgs);

  const child = spawn(cmd.file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) {
    const err = await new Promise((resolve) => child.once('error', resolve));
    throw new Error(`cannot start ${cmd.file}: ${err && err.message}`);
  }
  live.set(child.pid, child);
  const srv = new TestServer(child, args);
  defer(t, () => srv.stop().catch(() => {}));

  try {
    const { match } = await srv.waitForLine(/^listening on (ws:\/\/([^/]+):(\d+)(\/\S*))$/,
      { timeout: opts.readyTimeout || READY_TIMEOUT });
    srv.url = match[1];
    srv.host = match[2].replace(/^\[|\]$/g, '');
    srv.port = Number(match[3]);
    srv.path = match[4];
  } catch (e) {
    await srv.kill();
    throw e;
  }
  if (srv.host !== HOST) throw new Error(`server announced host ${srv.host}, expected ${HOST}: ${srv.url}`);
  if (opts.port) {
    if (srv.port !== opts.port) throw new Error(`server listens on ${srv.port}, asked ${opts.port}`);
  }
  return srv;
}

/** startServer on a fixed port, retrying a few times while the port is busy. */
async function startServerOnPort(t, port, opts = {}, { attempts = 20, gap = 150 } = {}) {
  let last;
  for (let i = 0; i < attempts; i++) {
    try {
      return await startServer(t, { ...opts, port });
    } catch (e) {
      last = e;
      await delay(gap);
    }
  }
  throw last;
}

// ---------------------------------------------------------------------------
// The official Primus client (generated by the primus npm package).
// ---------------------------------------------------------------------------
let Primus;
const socketClasses = new Map();

/**
 * Socket constructor of the Primus client library for the websockets
 * transformer and the given parser. `authorization: true` generates the
 * library as a Primus server with an authorize() handler serves it (its
 * default reconnect strategy leaves out 'timeout', so a refused handshake
 * ends the client instead of retrying).
 */
function socketClass(parser = 'json', { authorization = false, transformer = 'websockets' } = {}) {
  const key = `${parser}:${authorization}:${transformer}`;
  if (!socketClasses.has(key)) {
    Primus = Primus || require('primus');
    const options = { transformer, parser };
    if (authorization) options.authorization = function authorize(req, done) { done(); };
    // Node >= 22 has a global WebSocket, which the generated client would
    // prefer over `ws`; hide it so the client always uses ws, as it does on
    // Node 20 (the library snapshots the globals when it is generated).
    const hidden = Object.getOwnPropertyDescriptor(globalThis, 'WebSocket');
    if (hidden) delete globalThis.WebSocket;
    try {
      socketClasses.set(key, Primus.createSocket(options));
    } finally {
      if (hidden) Object.defineProperty(globalThis, 'WebSocket', hidden);
    }
  }
  return socketClasses.get(key);
}

function closeClient(client) {
  try { client.end(); } catch (e) { /* ignore */ }
  try { client.destroy(); } catch (e) { /* ignore */ }
}

/**
 * Create a client (it connects at once) and track it for cleanup. Does not
 * wait for anything.
 */
/**
 * Client options for engine.io's ways in: 'polling' (Primus's `websockets:
 * false`), 'websocket' (engine.io-client forced to WebSocket only), or the
 * default (polling first, then the upgrade).
 */
function modeOptions(mode) {
  return mode === 'polling' ? { websockets: false } : {};
}

/**
 * engine.io-client forced to WebSocket only: Primus merges its own
 * `transports` (polling first) into engine.io-client's options last, over
 * any `transport.transports` given, so this client's merge is wrapped to
 * leave 'websocket' alone. Before the first open (the next tick).
 */
function forceWebSocket(client) {
  const merge = client.merge;
  client.merge = function mergeWebSocketOnly(...objs) {
    const out = merge.apply(this, objs);
    if (out && Array.isArray(out.transports)) out.transports = ['websocket'];
    return out;
  };
}

function createClient(t, url, { parser = 'json', authorization = false, options = {},
  transformer = 'websockets', mode = null } = {}) {
  const Socket = socketClass(parser, { authorization, transformer });
  const client = new Socket(url, { ...modeOptions(mode), ...options });
  if (mode === 'websocket') forceWebSocket(client);
  // An 'error' without a listener would be swallowed by Primus anyway; keep a
  // record for diagnostics.
  client.errors = [];
  client.on('error', (err) => client.errors.push(err));
  defer(t, () => closeClient(client));
  return client;
}

/** Create a client and wait for its 'open'. */
async function connectClient(t, url, opts = {}) {
  const client = createClient(t, url, opts);
  await withTimeout(new Promise((resolve, reject) => {
    const onOpen = () => { cleanup(); resolve(); };
    const onFail = (err) => { cleanup(); reject(err instanceof Error ? err : new Error('client ended before open')); };
    function cleanup() {
      client.removeListener('open', onOpen);
      client.removeListener('error', onFail);
      client.removeListener('end', onFail);
    }
    client.on('open', onOpen);
    client.on('error', onFail);
    client.on('end', onFail);
  }), opts.timeout || 5000, `client open ${url}`).catch((e) => { closeClient(client); throw e; });
  return client;
}

/** Resolve with the args array of the next `event` on emitter. */
function waitEvent(emitter, event, timeout = 5000) {
  let handler;
  return withTimeout(new Promise((resolve) => {
    handler = (...args) => resolve(args);
    emitter.once(event, handler);
  }), timeout, `event '${event}'`).finally(() => emitter.removeListener(event, handler));
}

/**
 * The Primus client library runs in a vm context, so objects that its json
 * decoder (JSON.parse) builds have that context's Object/Array prototypes and
 * never deepStrictEqual host objects. Copy received data into this realm
 * (structuredClone keeps every JSON/msgpack value as it is, -0 included).
 */
function hostRealm(value) {
  return value !== null && typeof value === 'object' ? structuredClone(value) : value;
}

/**
 * Resolve with the next n 'data' messages of a client (in order). With
 * `filter`, only matching messages are counted/collected.
 */
function collect(client, n, { timeout = 5000, filter = null } = {}) {
  const got = [];
  let handler;
  if (n === 0) return Promise.resolve(got);
  return withTimeout(new Promise((resolve) => {
    handler = (raw) => {
      const data = hostRealm(raw);
      if (filter && !filter(data)) return;
      got.push(data);
      if (got.length === n) resolve(got);
    };
    client.on('data', handler);
  }), timeout, `${n} messages (got ${got.length})`).finally(() => client.removeListener('data', handler));
}

async function nextMessage(client, opts = {}) {
  return (await collect(client, 1, opts))[0];
}

/** Send a test command and resolve with the first reply that has `key`. */
async function command(client, cmd, key, timeout = 5000) {
  const reply = collect(client, 1, {
    timeout,
    filter: (d) => d !== null && typeof d === 'object' && !Array.isArray(d) && key in d
  });
  client.write({ __weft_test: cmd });
  return (await reply)[0];
}

/**
 * Every client sends a distinct message and must get exactly it back.
 * Returns the messages.
 */
async function echoRound(clients, { timeout = 5000, tag = 'round' } = {}) {
  const nonce = `${tag}-${process.pid}-${Date.now()}-${Math.random()}`;
  await Promise.all(clients.map(async (client, i) => {
    const msg = { echo: i, nonce, text: `héllo ${i} 😀` };
    const reply = nextMessage(client, {
      timeout,
      filter: (d) => d !== null && typeof d === 'object' && d.nonce === nonce
    });
    client.write(msg);
    const got = await reply;
    if (!isDeepStrictEqual(got, msg)) {
      throw new Error(`client ${i}: echo mismatch ${JSON.stringify(got)} != ${JSON.stringify(msg)}`);
    }
  }));
}

// ---------------------------------------------------------------------------
// Plain HTTP.
// ---------------------------------------------------------------------------

/**
 * One HTTP request; resolves with { status, headers, body } for a normal
 * response, or { status: 101, upgraded: true } when the server upgrades.
 */
function httpRequest(url, { method = 'GET', headers = {}, timeout = 5000 } = {}) {
  return withTimeout(new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode, headers: res.headers, upgraded: true });
    });
    req.on('error', reject);
    req.end();
  }), timeout, `${method} ${url}`);
}

/** Headers of a WebSocket upgrade request. */
function upgradeHeaders(key = 'dGhlIHNhbXBsZSBub25jZQ==') {
  return {
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': key
  };
}

module.exports = {
  modeOptions,
  defer,
  hostRealm,
  HOST,
  INTEROP_DIR,
  IS_REFERENCE,
  SERVER_NAME,
  skipOnReference,
  serverCommand,
  startServer,
  startServerOnPort,
  TestServer,
  socketClass,
  createClient,
  connectClient,
  closeClient,
  waitEvent,
  collect,
  nextMessage,
  command,
  echoRound,
  httpRequest,
  upgradeHeaders,
  withTimeout,
  waitUntil,
  delay
};
