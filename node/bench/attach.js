'use strict';
// What attaching costs (issue #22, decision #21): the same weft server
// listening on its own port and attached to a Node http.Server (the socket
// handed over to the core), measured from one process with the npm `ws`
// client: connections opened one after another (connect + upgrade + first
// echo), then echoes on one connection. Timings live here, never in tests.
//   node bench/attach.js [CONNECTIONS=300] [ECHOES=20000]
const http = require('node:http');
const WebSocket = require('ws');
const weft = require('..');

const CONNS = Number(process.argv[2] || 300);
const ECHOES = Number(process.argv[3] || 20000);

function echoServer(server) {
  server.on('connection', (spark) => spark.on('data', (d) => spark.write(d)));
  return server;
}

async function measure(url) {
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < CONNS; i++) {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    ws.send(JSON.stringify(i));
    await new Promise((resolve) => ws.once('message', resolve));
    ws.terminate();
  }
  const perConn = Number(process.hrtime.bigint() - t0) / 1e3 / CONNS;
  const ws = new WebSocket(url);
  await new Promise((resolve) => ws.once('open', resolve));
  t0 = process.hrtime.bigint();
  await new Promise((resolve) => {
    let n = 0;
    ws.on('message', () => { if (++n === ECHOES) resolve(); else ws.send('"x"'); });
    ws.send('"x"');
  });
  const perEcho = Number(process.hrtime.bigint() - t0) / 1e3 / ECHOES;
  ws.terminate();
  return { perConn, perEcho };
}

(async () => {
  const own = echoServer(new weft.Server({ port: 0, host: '127.0.0.1', pingInterval: false }));
  const app = http.createServer((req, res) => res.end('app'));
  const attached = echoServer(new weft.Server(app, { pingInterval: false }));
  await new Promise((resolve) => app.listen(0, '127.0.0.1', resolve));
  const rows = [];
  for (let round = 0; round < 2; round++) { // alternate, so both see the same machine
    rows.push(['listening', await measure(`ws://127.0.0.1:${own.port}/primus`)]);
    rows.push(['attached', await measure(`ws://127.0.0.1:${app.address().port}/primus`)]);
  }
  for (const [name, r] of rows) {
    console.log(`${name.padEnd(10)} connect+upgrade+first echo ${r.perConn.toFixed(0)} us/conn, echo ${r.perEcho.toFixed(1)} us`);
  }
  own.destroy();
  attached.destroy();
})();
