// The installed package's types under TypeScript's `nodenext` resolution
// (scripts/packages.sh compiles this with tsc --strict and runs the output):
// named ESM imports, typed options, and a known option of the wrong type
// that must not type-check (unknown keys do: they are kept for plugins, as
// Primus does, decision #33).
import { Server, connect, version, type ServerOptions, type Spark, type Value } from 'weft';
import { once } from 'node:events';

const options: ServerOptions = { port: 0, host: '127.0.0.1', pingInterval: false };
const server = new Server(options);
server.on('connection', (spark: Spark) => spark.on('data', (msg: Value) => spark.write(msg)));
const client = connect(`ws://127.0.0.1:${server.port}/primus`, { reconnect: { retries: 0 } });
client.write('hello, weft');
const [msg] = (await once(client, 'data')) as [string];
console.log(`${msg} (weft ${version}, TypeScript)`);
client.end();
server.destroy();

export function mistyped(): Server {
  // @ts-expect-error: pingInterval is a number or false (a TypeError at run time too)
  return new Server({ pingInterval: 'often' });
}
