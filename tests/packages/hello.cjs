'use strict';
// weft's hello world for Node, run in a folder where the `npm pack` tarball
// was installed (scripts/packages.sh): a server and a client in one process;
// the client's message comes back. Prints "hello, weft (weft VERSION)".
// hello.mjs runs the same with ESM named imports.
function hello({ Server, connect, version }) {
  const server = new Server({ port: 0, host: '127.0.0.1' });
  server.on('connection', (spark) => spark.on('data', (msg) => spark.write(msg)));
  const client = connect(`ws://127.0.0.1:${server.port}/primus`);
  client.on('data', (msg) => {
    console.log(`${msg} (weft ${version})`);
    client.end();
    server.destroy();
  });
  client.write('hello, weft');
}
module.exports = hello;
if (require.main === module) hello(require('weft'));
