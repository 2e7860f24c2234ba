'use strict';
//
// Errors with Node's conventions, and where a handler's exception goes.
//
const binding = require('./binding');

/** An Error with Node's conventions: `code` ("ENOBUFS"), `kind` (weft's error class). */
class WeftError extends Error {
  constructor(message, code, kind) {
    super(message);
    this.name = 'WeftError';
    if (code) this.code = code;
    if (kind) this.kind = kind;
  }
}

// The codes the binding answers with (include/weft/weft.h; stable).
const ESTATE = -29997;
const ECLOSED = -29996;

/** [name, message] of a core error code: ["ECLOSED", "handle is closed or closing"]. */
const errorInfo = (rc) => binding.errorInfo(rc);

/** A WeftError for a negative code: "what: ENOBUFS". */
function rcError(rc, what) {
  const code = errorInfo(rc)[0];
  return new WeftError(`${what}: ${code}`, code);
}

/** rc, or a thrown rcError when it is negative. */
function check(rc, what) {
  if (rc < 0) throw rcError(rc, what);
  return rc;
}

// Emits 'error' only when someone listens (Primus's EventEmitter3 never throws
// for an unhandled 'error'; a network error must not crash the process).
function softError(emitter, err, ...rest) {
  if (emitter.listenerCount('error') > 0) {
    emitter.emit('error', err, ...rest);
    return true;
  }
  return false;
}

const HANDLER_ERRORS = ['uncaughtException', 'close'];

/**
 * An exception from application code weft called for a server (a listener
 * of 'connection', a spark's 'data', a remote event, a transform, authorize,
 * idGenerator, roomsPolicy). With handlerErrors 'uncaughtException' (the
 * default) it is rethrown and reaches process 'uncaughtException', as any
 * Node callback's; with 'close' the spark closes with 1011 and the server
 * emits 'error' (kind "handler", code "EHANDLER", `cause` the exception),
 * or, without an 'error' listener, a process warning.
 */
function handlerError(server, spark, err) {
  if (!server || server._handlerErrors !== 'close') throw err;
  const why = err instanceof Error ? err.message : String(err);
  const e = new WeftError(`a handler threw: ${why}`, 'EHANDLER', 'handler');
  e.cause = err;
  if (spark) spark._fail();
  if (!softError(server, e, spark || undefined)) process.emitWarning(e);
}

/**
 * A write whose data cannot be encoded (a cycle, nesting past the limit, a
 * value the parser refuses): Primus's 'error' event when `self` has an
 * 'error' listener (then write() returns false), else thrown at the call,
 * as an EventEmitter with no listener would throw it. The message names
 * the parser ("cannot encode the data as JSON: ...").
 */
function encodeError(self, parser, e) {
  if (!(e instanceof Error) || !['EDEPTH', 'ETYPE', 'ERANGE', 'EUTF8', 'ENOTSUP'].includes(e.code)) throw e;
  const name = typeof parser === 'string' ? (parser === 'json' ? 'JSON' : parser) : 'the parser';
  const err = new e.constructor(`cannot encode the data as ${name}: ${e.message}`);
  err.code = e.code;
  if (self.listenerCount('error') === 0) throw err;
  self.emit('error', err);
  return false;
}

module.exports = { WeftError, ESTATE, ECLOSED, errorInfo, rcError, check, softError, handlerError, encodeError, HANDLER_ERRORS };
