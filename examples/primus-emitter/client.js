'use strict';
// A Primus client for server.js: the same parser and primus-emitter, events
// with acks both ways. Written against `primus` (Primus.createSocket); on
// weft change one line: require('primus') -> require('weft').
// Usage: node client.js [URL]. Prints what it got, one line each.
const Primus = require('primus');
const parser = require('./parser');

const Socket = Primus.createSocket({
  transformer: 'websockets',
  parser,
  plugin: { emitter: require('primus-emitter') }
});
const client = new Socket(process.argv[2] || 'http://127.0.0.1:8080');

client.on('welcome', (info) => console.log('welcome: ' + info.motd));
client.on('question', (question, fn) => fn(question.toUpperCase() + '!'));
client.on('answered', (answer) => {
  console.log('answered: ' + answer);
  client.end();
});
client.on('open', () => {
  client.send('greet', 'wörld', (reply) => {
    console.log('greet: ' + reply);
    client.send('sum', [1, 2, 3.5], (total) => {
      console.log('sum: ' + total);
      client.send('ask me', 'ça va');
    });
  });
});
client.on('error', (err) => {
  console.error('error: ' + err.message);
  process.exitCode = 1;
});
