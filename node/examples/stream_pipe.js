'use strict';
// Sparks and clients are Duplex streams: this server upper-cases every
// message through a Transform in a pipeline.
//   node examples/stream_pipe.js [port]
const { Transform, pipeline } = require('node:stream');
const weft = require('weft');

const server = new weft.Server({ port: Number(process.argv[2] || 8080), host: '127.0.0.1' });
server.on('connection', (spark) => {
  const upper = new Transform({
    objectMode: true,
    transform(msg, _enc, cb) { cb(null, typeof msg === 'string' ? msg.toUpperCase() : msg); }
  });
  pipeline(spark, upper, spark, () => {});
});
console.log(`listening on ${server.url}`);
process.on('SIGINT', () => server.destroy(() => process.exit(0)));
