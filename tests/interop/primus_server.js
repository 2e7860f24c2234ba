#!/usr/bin/env node
'use strict';
//
// Reference peer for the interop suite: a real Primus 8 server (websockets
// transformer, ws underneath) that implements the weft test-server contract,
// so the suite can be proven against Primus itself before it is pointed at
// weft's build/tests/weft_test_server.
//
// Usage: node primus_server.js [--host 127.0.0.1] [--port 0] [--path /primus]
//          [--parser json|msgpack] [--ping-interval MS] [--max-length BYTES]
//          [--auth TOKEN] [--transformer websockets|engine.io]
//          [--session-ping INTERVAL,TIMEOUT]
//
// stdout (one line each, written synchronously):
//   listening on ws://HOST:PORT/PATH
//   connection <id>
//   disconnection <id>
//   error <kind> <message>
//
// Every message a spark sends is echoed back to it, except maps with the key
// "__weft_test" (end, end-reconnect, broadcast, count, id). SIGTERM/SIGINT
// exit with status 0.
//
const http = require('http');
const Primus = require('primus');

function usage(msg) {
  process.stderr.write(`primus_server: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {
    host: '127.0.0.1',
    port: 0,
    path: '/primus',
    parser: 'json',
    pingInterval: 30000,
    maxLength: 10485760,
    auth: null,
    transformer: 'websockets',
    sessionPing: null
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const eq = flag.indexOf('=');
    let name = flag;
    let value;
    if (eq > 0) {
      name = flag.slice(0, eq);
      value = flag.slice(eq + 1);
    } else {
      value = argv[++i];
    }
    if (value === undefined) usage(`missing value for ${name}`);
    switch (name) {
      case '--host': opts.host = value; break;
      case '--port': opts.port = Number(value); break;
      case '--path': opts.path = value; break;
      case '--parser':
        if (value !== 'json' && value !== 'msgpack') usage(`bad parser ${value}`);
        opts.parser = value;
        break;
      case '--ping-interval': opts.pingInterval = Number(value); break;
      case '--max-length': opts.maxLength = Number(value); break;
      case '--auth': opts.auth = value; break;
      case '--transformer':
        if (value !== 'websockets' && value !== 'engine.io') usage(`bad transformer ${value}`);
        opts.transformer = value;
        break;
      case '--session-ping': opts.sessionPing = value.split(',').map(Number); break;
      default: usage(`unknown option ${name}`);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) usage('bad --port');
  if (!Number.isFinite(opts.pingInterval) || opts.pingInterval < 0) usage('bad --ping-interval');
  if (!Number.isInteger(opts.maxLength) || opts.maxLength <= 0) usage('bad --max-length');
  if (!opts.path.startsWith('/')) opts.path = '/' + opts.path;
  return opts;
}

function say(line) {
  // stdout is a pipe under the harness: writes to pipes are synchronous on
  // POSIX in Node, so every line is flushed as it happens.
  process.stdout.write(line + '\n');
}

function oneLine(s) {
  return String(s).replace(/[\r\n]+/g, ' ');
}

const opts = parseArgs(process.argv.slice(2));
const server = http.createServer();

const primus = new Primus(server, {
  transformer: opts.transformer,
  parser: opts.parser,
  pathname: opts.path,
  pingInterval: opts.pingInterval, // 0 turns the heartbeat off
  maxLength: opts.maxLength,
  // engine.io's own heartbeat (Primus hands `transport` to engine.io).
  transport: opts.sessionPing ? { pingInterval: opts.sessionPing[0], pingTimeout: opts.sessionPing[1] } : {}
});

if (opts.auth !== null) {
  primus.authorize(function authorize(req, done) {
    let token = null;
    try {
      token = new URL(req.url, 'http://localhost').searchParams.get('token');
    } catch (e) { /* leave null */ }
    // Answer asynchronously, as weft does.
    setTimeout(function decide() {
      if (token === opts.auth) return done();
      const err = new Error('bad token');
      err.statusCode = 401;
      done(err);
    }, 5);
  });
}

function isTestCommand(data) {
  return data !== null && typeof data === 'object' && !Array.isArray(data) &&
    !(data instanceof Uint8Array) &&
    Object.prototype.hasOwnProperty.call(data, '__weft_test');
}

primus.on('connection', function connection(spark) {
  say(`connection ${spark.id}`);

  spark.on('error', function error(err) {
    const kind = err && err.name === 'ParserError' ? opts.parser
      : (err && (err.code || err.name)) || 'spark';
    say(`error ${kind} ${oneLine(err && err.message ? err.message : err)}`);
  });

  spark.on('data', function data(msg) {
    if (!isTestCommand(msg)) {
      spark.write(msg);
      return;
    }
    switch (msg.__weft_test) {
      case 'end':
        spark.end();
        break;
      case 'end-reconnect':
        spark.end(undefined, { reconnect: true });
        break;
      case 'broadcast':
        primus.write(msg.data);
        break;
      case 'count':
        spark.write({ count: primus.connected });
        break;
      case 'id':
        spark.write({ id: spark.id });
        break;
      default:
        say(`error test unknown test command ${oneLine(JSON.stringify(msg.__weft_test))}`);
        spark.write({ error: 'unknown test command' });
    }
  });
});

primus.on('disconnection', function disconnection(spark) {
  say(`disconnection ${spark.id}`);
});

primus.on('error', function error(err) {
  say(`error primus ${oneLine(err && err.message ? err.message : err)}`);
});

server.on('error', function error(err) {
  say(`error listen ${oneLine(err.message)}`);
  process.exit(1);
});

server.listen(opts.port, opts.host, function listening() {
  const addr = server.address();
  const host = addr.family === 'IPv6' || addr.family === 6 ? `[${addr.address}]` : addr.address;
  say(`listening on ws://${host}:${addr.port}${opts.path}`);
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  // Never hang on shutdown: exit 0 even if closing takes too long.
  setTimeout(() => process.exit(0), 1000).unref();
  try {
    primus.destroy({ timeout: 0 }, () => process.exit(0));
  } catch (e) {
    process.exit(0);
  }
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
