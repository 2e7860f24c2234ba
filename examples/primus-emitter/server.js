'use strict';
// A Primus server with primus-emitter's events and acks over a custom
// parser (parser.js), on the application's own HTTP server. Written against
// `primus`; to run it on weft change one line: require('primus') ->
// require('weft'). Usage: node server.js [PORT] (0 picks one).
const http = require('http');
const Primus = require('primus');
const parser = require('./parser');

const server = http.createServer((req, res) => {
  res.setHeader('Content-Type', 'text/plain');
  res.end('the application answers ' + req.url + '\n');
});
const primus = new Primus(server, {
  transformer: 'websockets',
  parser,
  plugin: { emitter: require('primus-emitter') }
});

primus.on('connection', (spark) => {
  spark.send('welcome', { id: spark.id, motd: 'bienvenue à bord ✓' });
  // An event with an ack: the client's callback gets the answer.
  spark.on('greet', (name, fn) => fn('héllo ' + name));
  spark.on('sum', (numbers, fn) => fn(numbers.reduce((a, b) => a + b, 0)));
  // The server asks back: its ack comes from the client's handler.
  spark.on('ask me', (question) => {
    spark.send('question', question, (answer) => spark.send('answered', answer));
  });
});

server.listen(process.argv[2] === undefined ? 8080 : Number(process.argv[2]), '127.0.0.1', () => {
  console.log('listening on http://127.0.0.1:' + server.address().port);
});
process.on('SIGTERM', () => primus.destroy({ timeout: 1000 }, () => process.exit(0)));
