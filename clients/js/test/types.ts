// Compiled by `tsc -p test/tsconfig.json` in test.sh: the declarations in
// weft.d.ts describe the client as applications use it.
import Weft, { backoff, ReconnectInfo, WeftError } from '../weft';
import channels, { Channel } from '../channels';
import recovery, { RecoveryClient } from '../recovery';
import { vibe } from '../vibe';

const c = new Weft('ws://127.0.0.1:8080/primus', {
  parser: 'msgpack',
  reconnect: { min: 100, max: 5000, retries: 3, factor: 2 },
  strategy: ['disconnect', 'online'],
  queueLimit: 1 << 20
});
c.on('open', () => c.write({ hello: 'weft' }));
c.on('data', (msg: unknown) => console.log(msg));
c.on('reconnect scheduled', (info: ReconnectInfo) => console.log(info.attempt, info.delay));
c.on('reconnect timeout', (err: WeftError, info: ReconnectInfo) => console.log(err.kind, info.attempt));
c.on('error', (e: WeftError) => console.log(e.kind, e.message));
c.id((id: string) => console.log(id.length));
const ok: boolean = c.write(new Uint8Array([1, 2]));
const state: 1 | 2 | 3 = c.readyState;
const d: number = backoff(3, { min: 500 }, 0.5);
if (c.readyState === Weft.OPEN) c.end('bye');
const p = Weft.connect();
p.destroy();
const g = new globalThis.Primus('/primus');
g.setOnline(false);
const e = new Weft('/primus', { emitter: { timeout: 5000 } });
e.onEvent('news', (text: string, ack?: (err: unknown, value?: unknown) => void) => ack && ack(null, text.length));
const sent: boolean = e.send('sum', 1, 2, (err: WeftError | null, v: number) => console.log(err?.reason, v));
e.request('sum', [1, 2], { timeout: 100 }).then((v) => console.log(v));
e.join('lobby').then(() => e.leave('lobby')).then(() => e.leaveAll());
const t = new Weft('/primus', { batching: 16384, plugin: { hi: { client: (cl) => cl.write('hi') } } });
t.transform('incoming', (packet) => packet.data !== 'drop');
t.transform('outgoing', (packet, next) => next(null, false));
t.use('greeter', { client(cl: Weft) { cl.on('open', () => cl.write({ greeting: 'hello' })); } });
const plug = t.plugin('greeter');
const all: number = Object.keys(t.plugin()).length;
console.log(ok, state, d, sent, plug, all, new Weft.Emitter());
const withChannels = new Weft('/primus').use('channels', channels({ window: 4 }));
const up: Channel = withChannels.channel('up');
up.on('data', (m: unknown) => console.log(m));
const left: boolean = up.write({ n: 1 });
withChannels.on('channel', (ch: Channel) => ch.end());
console.log(left, up.queued, up.ended);
// @ts-expect-error: a client without the plugin has no channel()
t.channel('up');
// @ts-expect-error: transforms are incoming or outgoing
t.transform('sideways', () => {});
// @ts-expect-error: batching is a boolean or a byte count
new Weft('/primus', { batching: 'lots' });
// @ts-expect-error: unknown event names are refused
c.on('nope', () => {});
// @ts-expect-error: parsers are json or msgpack
new Weft('/primus', { parser: 'xml' });

const rc = new Weft('/primus') as Weft & RecoveryClient;
rc.use('recovery', recovery());
rc.on('recovered', (id: string) => console.log(id.length));
const resumed: boolean = rc.recovered;

// The Vibe module's transformer, by name once registered.
Weft.transformers.vibe = vibe;
const overVibe = new Weft('http://127.0.0.1:8080/vibe', { transformer: 'vibe', transport: 'httpstream', emitter: true });
overVibe.on('open', () => overVibe.send('greet', { hi: 1 }));
