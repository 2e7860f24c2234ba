'use strict';
// Test helpers: servers on 127.0.0.1 port 0, the npm Primus client and
// server, bounded waits, and child processes killed by PID only.
const { spawn } = require('node:child_process');
const http = require('node:http');
const path = require('node:path');
const Primus = require('primus');
const weft = require('..');

const HOST = '127.0.0.1';

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    })
  ]).finally(() => clearTimeout(timer));
}

/** Resolves with the first argument of the next `event`. */
function once(emitter, event, ms = 5000) {
  return onceArgs(emitter, event, ms).then((args) => args[0]);
}

/** Resolves with all the arguments of the next `event`. */
function onceArgs(emitter, event, ms = 5000) {
  return withTimeout(new Promise((resolve) => {
    emitter.once(event, (...args) => resolve(args));
  }), ms, `event ${event}`);
}

// The Primus client runs in its own vm context: normalize its objects before
// a strict comparison.
const plain = (v) => (v === undefined ? v : JSON.parse(JSON.stringify(v)));

/** Raw HTTP request on a socket; resolves with the whole answer as text. */
function rawHttp(port, request) {
  const net = require('node:net');
  return withTimeout(new Promise((resolve, reject) => {
    const sock = net.connect(port, HOST, () => sock.write(request));
    let data = '';
    sock.on('data', (d) => { data += d; });
    sock.on('end', () => resolve(data));
    sock.on('close', () => resolve(data));
    sock.on('error', reject);
  }), 5000, 'raw http');
}

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${what}`);
    await delay(10);
  }
}

/** A weft server on 127.0.0.1:0, destroyed after the test. */
function weftServer(t, options) {
  const server = new weft.Server(Object.assign({ port: 0, host: HOST }, options));
  t.after(() => new Promise((resolve) => server.destroy({ timeout: 200 }, resolve)));
  return server;
}

/** A server with `options`, one weft client with `clientOptions` open on it, and its spark. */
async function weftPair(t, options, clientOptions) {
  const server = weftServer(t, options);
  const conn = once(server, 'connection');
  const client = new weft.Client(server.url, Object.assign({ reconnect: { retries: 0 } }, clientOptions));
  client.on('error', () => {});
  t.after(() => client.end());
  await once(client, 'open');
  return { server, client, spark: await conn };
}

const sockets = new Map();
function socketClass(parser = 'json', transformer = 'websockets') {
  const key = `${parser}:${transformer}`;
  if (!sockets.has(key)) sockets.set(key, Primus.createSocket({ transformer, parser }));
  return sockets.get(key);
}

/** The npm Primus client, ended after the test. */
function primusClient(t, url, options) {
  const Socket = socketClass(options && options.parser, options && options.transformer);
  const client = new Socket(url, Object.assign({ reconnect: { retries: 0 }, strategy: false }, options));
  client.on('error', () => {});
  t.after(() => client.end());
  return client;
}

/** A reference Primus 8 server (websockets) on 127.0.0.1:0 that echoes. */
async function primusServer(t, options = {}) {
  const httpServer = http.createServer();
  const primus = new Primus(httpServer, Object.assign({ transformer: 'websockets' }, options));
  primus.on('connection', (spark) => {
    spark.on('data', (d) => {
      if (d && d.cmd === 'end') spark.end();
      else if (d && d.cmd === 'end-reconnect') spark.end(undefined, { reconnect: true });
      else spark.write(d);
    });
  });
  await new Promise((resolve) => httpServer.listen(0, HOST, resolve));
  const url = `http://${HOST}:${httpServer.address().port}`;
  if (t) t.after(() => new Promise((resolve) => primus.destroy({ timeout: 10 }, resolve)));
  return { primus, httpServer, url, port: httpServer.address().port };
}

/**
 * Collects uncaught exceptions for the duration of a test (node:test would
 * otherwise fail the test on them): the process's listeners are put back
 * after it. Returns the array they are pushed to.
 */
function catchUncaught(t) {
  const errors = [];
  const saved = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  const handler = (e) => errors.push(e);
  process.on('uncaughtException', handler);
  t.after(() => {
    process.removeListener('uncaughtException', handler);
    for (const l of saved) process.on('uncaughtException', l);
  });
  return errors;
}

/** Runs a node script; kills it by PID if it outlives `ms`. */
function runNode(args, ms = 20000, env = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { env: Object.assign({}, process.env, env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch (e) { /* gone */ } }, ms);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

module.exports = { weft, Primus, HOST, once, onceArgs, plain, rawHttp, delay, waitUntil, withTimeout, weftServer, weftPair, primusClient, primusServer, runNode, catchUncaught, ROOT: path.resolve(__dirname, '..') };
