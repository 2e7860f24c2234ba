'use strict';
//
// The core's log records (weft_loop_set_log) as 'log' events of the Server or
// Client they are about, and on stderr with NODE_DEBUG=weft (util.debuglog).
//
// There is one core loop per Node environment, so one core level: the most
// verbose `logLevel` among the servers and clients that have a 'log' listener
// (or are being constructed: a server's 'listen' record comes from its
// constructor), DEBUG with NODE_DEBUG=weft, and off otherwise — the core
// formats nothing nobody listens to. Records reach JavaScript from inside the
// core; they are queued and emitted on the next tick, in order, so a listener
// never runs inside the core's own work.
//
const util = require('node:util');
const binding = require('./binding');

const LEVELS = ['off', 'error', 'warn', 'info', 'debug'];
const kLevel = Symbol('weft.logLevel');
const kHooked = Symbol('weft.logHooked');

let debug = util.debuglog('weft', (fn) => { debug = fn; });
const debugOn = debug.enabled;

const wanting = new Set(); // servers and clients whose records are wanted
let coreLevel = 0;
const pending = []; // [object, record]
let scheduled = false;

/** The number of a level name; a TypeError (ERR_INVALID_ARG_VALUE) for anything else. */
function levelNumber(name) {
  const n = typeof name === 'string' ? LEVELS.indexOf(name) : -1;
  if (n < 0) {
    const err = new TypeError(`logLevel must be one of ${LEVELS.map((l) => `'${l}'`).join(', ')}; received ${util.inspect(name)}`);
    err.code = 'ERR_INVALID_ARG_VALUE';
    throw err;
  }
  return n;
}

function sync() {
  let want = debugOn ? LEVELS.indexOf('debug') : 0;
  for (const obj of wanting) if (obj[kLevel] > want) want = obj[kLevel];
  if (want !== coreLevel) {
    binding.logLevel(want);
    coreLevel = want;
  }
}

function want(obj) {
  if (obj[kLevel] > 0 && !wanting.has(obj)) {
    wanting.add(obj);
    sync();
  }
}

/** Drops `obj` from the wanted set when it has no 'log' listener (or is gone). */
function settle(obj, gone) {
  if ((gone || obj.listenerCount('log') === 0) && wanting.delete(obj)) sync();
}

function onNewListener(event) { if (event === 'log' && !this[kHooked].gone) want(this); }
function onRemoveListener(event) { if (event === 'log') settle(this, false); }

/** Watches `obj`'s 'log' listeners (again after removeAllListeners()). */
function hook(obj) {
  if (!obj.listeners('newListener').includes(onNewListener)) obj.on('newListener', onNewListener);
  if (!obj.listeners('removeListener').includes(onRemoveListener)) obj.on('removeListener', onRemoveListener);
}

/**
 * A Server or Client under construction (after its handle exists, before it
 * listens or connects): reads options.logLevel ('info' by default), wants its
 * records until the next tick, when only a 'log' listener keeps them coming.
 */
function attach(obj, options) {
  obj[kLevel] = options.logLevel === undefined ? LEVELS.indexOf('info') : levelNumber(options.logLevel);
  obj[kHooked] = { gone: false };
  hook(obj);
  want(obj);
  process.nextTick(() => settle(obj, obj[kHooked].gone));
}

/** The server closed or the client was destroyed: no more records. */
function detach(obj) {
  if (!obj[kHooked]) return;
  obj[kHooked].gone = true;
  settle(obj, true);
}

function deliver(obj, record) {
  if (debugOn) {
    debug('%s %s%s: %s', record.level, record.event, record.kind ? ` ${record.kind}` : '', record.message);
  }
  if (LEVELS.indexOf(record.level) <= obj[kLevel] && obj.listenerCount('log') > 0) obj.emit('log', record);
  else settle(obj, false);
}

function flush() {
  try {
    while (pending.length > 0) {
      const [obj, record] = pending.shift();
      deliver(obj, record);
    }
  } finally {
    scheduled = false;
    if (pending.length > 0) schedule(); // a listener threw: the rest still go out
  }
}

function schedule() {
  scheduled = true;
  process.nextTick(flush);
}

/** The addon's dispatcher (this = the server or client). */
function dispatch(level, event, message, spark, kind) {
  pending.push([this, { level: LEVELS[level] || 'debug', event, message, spark, kind }]);
  if (!scheduled) schedule();
}

/** The level the core formats records up to now (0: none), for tests. */
function coreLevelNow() { return coreLevel; }

module.exports = { attach, detach, hook, dispatch, levelNumber, coreLevelNow };
