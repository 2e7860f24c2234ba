'use strict';
// One set of event handlers for every kind of peer (issue #21): a Primus
// client (transformer websockets), an engine.io client and a fast-tcp
// client on one server, a Vibe client (vibe-protocol) on another; acks and
// Vibe replies alike.
//   node examples/handlers/app.js [port]
// listens on ws://127.0.0.1:PORT/primus (websockets and engine.io side by
// side), tcp://127.0.0.1:PORT+2 (fast-tcp) and http://127.0.0.1:PORT+1/vibe
// (Vibe: ws, httpstream, httplongpoll); port 0: any free ports. A rejected
// ack reaches a fast-tcp peer as its data {error: reason} (fast-tcp's acks
// have no rejection).
const weft = require(process.env.WEFT_NODE_MODULE || 'weft');

// Events carry one argument, as Vibe's do.
function handlers(spark) {
  spark.on('sum', (numbers, ack) => {
    if (!Array.isArray(numbers) || !numbers.every((n) => typeof n === 'number')) ack.reject('not numbers');
    else ack.resolve(numbers.reduce((a, b) => a + b, 0));
  });
  spark.on('echo', (data) => spark.send('echo', data));
  spark.on('ask', (question) => spark.send('question', question, (err, answer) => spark.send('answered', err ? { rejected: err.reason } : { resolved: answer })));
}

const port = Number(process.argv[2] || 8080);
const primus = new weft.Server({ listen: [`ws://127.0.0.1:${port}/primus`, `tcp://127.0.0.1:${port ? port + 2 : 0}`],
  transformer: 'websockets,engine.io', emitter: true });
const vibe = new weft.Server({ port: port ? port + 1 : 0, host: '127.0.0.1', pathname: '/vibe', transformer: 'vibe', emitter: true });
for (const server of [primus, vibe]) {
  server.on('connection', handlers);
  server.on('error', (err) => console.error('error', err.kind, err.message));
}
for (const url of [...primus.urls, vibe.url]) console.log(`listening on ${url}`);
process.on('SIGTERM', () => { let n = 2; for (const s of [primus, vibe]) s.destroy(() => { if (--n === 0) process.exit(0); }); });
