'use strict';
// A client that reconnects by itself; each stdin line is sent, each message
// printed.   node examples/client.js ws://127.0.0.1:8080/primus
const readline = require('node:readline');
const weft = require('weft');

const client = weft.connect(process.argv[2] || 'ws://127.0.0.1:8080/primus', {
  reconnect: { min: 500, max: 10000, retries: 10 }
});
client.on('open', () => console.error('open'));
client.on('data', (data) => console.log(JSON.stringify(data)));
client.on('reconnect scheduled', (o) => console.error(`reconnect ${o.attempt}/${o.retries} in ${o.scheduled} ms`));
client.on('error', (err) => console.error('error', err.kind, err.message));
client.on('end', () => { console.error('end'); process.exit(0); });

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  let msg = line;
  try { msg = JSON.parse(line); } catch (e) { /* a plain string */ }
  client.write(msg);
}).on('close', () => client.end());
