'use strict';
// An echo server: every message goes back to its sender.
//   node examples/echo_server.js [port]
const weft = require('weft');

const server = weft.createServer((spark) => {
  console.log('connection', spark.id, spark.address.ip);
  spark.on('data', (data) => spark.write(data));
  spark.on('end', () => console.log('end', spark.id));
}, { port: Number(process.argv[2] || 8080), host: '127.0.0.1' });

server.on('error', (err) => console.error('error', err.kind, err.message));
server.server.on('listening', () => console.log(`listening on port ${server.address().port}`));
process.on('SIGINT', () => server.destroy(() => process.exit(0)));
