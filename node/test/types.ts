import * as weft from '..';
const server = new weft.Server({ port: 0, host: '127.0.0.1', parser: 'json', pingInterval: false });
server.on('connection', (spark) => {
  spark.on('data', (d) => { const ok: boolean = spark.write(d); void ok; });
  spark.end({ bye: true }, { reconnect: true });
});
server.authorize((req, done) => done(req.headers['x'] ? null : Object.assign(new Error('no'), { statusCode: 403 })));
server.transform('incoming', (packet) => { packet.data = 1; });
server.transform('outgoing', (packet, next) => next(null, false));
server.transform('incoming', (packet) => { packet.data = { n: packet.data }; }, { types: ['number', 'string'] });
server.use('p', { server(s, o) { void s; void o; } });
server.forEach((s, id) => { void s; void id; return false; });
server.destroy({ reconnect: true, timeout: 10 }, () => {});
const c = weft.connect('ws://x/primus', { reconnect: { min: 1, retries: 2 }, strategy: ['disconnect'] });
c.on('reconnect scheduled', (o) => o.attempt + o.scheduled);
c.on('reconnect failed', (err, o) => { void err.code; void o.retries; });
c.write(Buffer.from('x')); c.write(2n); c.write({ a: [1, null] });
const Socket = weft.createSocket({ parser: 'msgpack' });
new Socket('ws://x').end();
const b: Buffer = weft.encode('json', { a: 1 });
void b; void weft.version;
// Issue #9: events with acks, rooms, channels, batching.
const ext = new weft.Server({ port: 0, emitter: { timeout: 500 }, rooms: true, channels: { window: 8 }, batching: 16384 });
ext.on('connection', (spark) => {
  spark.on('sum', (a: number, b: number, ack: weft.Ack) => { ack(null, a + b); });
  spark.on('*', (name: string, ...args: any[]) => { void name; void args; });
  spark.send('news', 1, { a: 2 });
  spark.send('ask', 1, (err, v) => { if (err) void err.code; void v; });
  spark.request<number>('ask', [1], { timeout: 100 }).then((n) => n + 1).catch((e: weft.AckError) => e.reason);
  spark.join('r').leave('r').leaveAll();
  const rooms: string[] = spark.rooms();
  const n: number = spark.broadcast.send('x') + spark.to('r').except('id').write({ a: 1 });
  void rooms; void n;
  const ch: weft.Channel = spark.channel('c');
  ch.write({ a: 1 });
  ch.on('data', (d) => void d);
});
ext.on('channel', (ch, spark) => { void ch.name; void spark.id; });
ext.roomsPolicy((spark, room, join) => join && room.startsWith('public') && !!spark.id);
const count: number = ext.send('all', 1) + ext.to('a', 'b').except('x').send('e', 2) + ext.room('a').clients().length;
void count; void ext.rooms();
const ec = weft.connect('ws://x/primus', { emitter: true, channels: true, batching: true });
ec.join('public:a').then(() => ec.leave('public:a'));
ec.join('x', (err) => void err);
ec.on('channel', (ch) => ch.end());
ec.request('sum', [1, 2]).then((v) => void v);
// Transformers by name, listen URLs (Unix sockets), several listeners.
const names: string[] = weft.transformers();
const tname: weft.TransformerName = names[0];
const unix = new weft.Server({ listen: ['ws+unix:///tmp/app.sock:/primus', 'ws://127.0.0.1:0/'], unixMode: 0o660, transformer: tname });
const urls: readonly string[] = unix.urls;
const addr = unix.address();
if (typeof addr === 'string') void addr.length;
else if (addr) void addr.port;
const uc = weft.connect(urls[0], { transformer: 'websockets' });
void uc; void weft.createSocket({ transformer: 'WebSockets' });
// Options are typed precisely; keys weft does not know are a plugin's (kept
// in options, as Primus's; test/options.test.js).
const withPlugin = new weft.Server({ port: 0, foo: 'bar', rooms: true, strict: false });
void withPlugin.options.foo;
const pluginOptions: weft.ClientOptions = { reconnect: { min: 1 }, emitterTimeout: 5 };
void pluginOptions;
// @ts-expect-error: port is a number or a string
void new weft.Server({ port: true, foo: 'bar' });
// @ts-expect-error: reconnect is { min, max, retries, factor }
void weft.createSocket({ reconnect: 'fast', extra: 1 });
// @ts-expect-error: strict is a boolean
void weft.connect('ws://x/primus', { strict: 'yes' });
void new weft.Server({ port: 0, iknowhttpsisbetter: true, ackTimeout: 100 });
// Logs and metrics (issue #17).
const observed = new weft.Server({ port: 0, metricsPath: '/metrics', logLevel: 'warn' });
observed.on('log', (r: weft.LogRecord) => {
  const level: 'error' | 'warn' | 'info' | 'debug' = r.level;
  const spark: string | null = r.spark;
  if (r.event === 'refused' && r.kind === null) void r.message.length;
  void level; void spark;
});
const m: weft.Metrics = observed.metrics();
const total: number = m.connectionsTotal + m.bytesOutTotal + m.errorsTotal;
const text: string = observed.metricsText();
void total; void text;
const logged = weft.connect('ws://x/primus', { logLevel: 'debug' });
logged.on('log', (r) => { const e: weft.LogEvent = r.event; void e; });
// @ts-expect-error: 'loud' is not a LogLevel
void new weft.Server({ logLevel: 'loud' });
// @ts-expect-error: metricsPath is a string
void new weft.Server({ metricsPath: true });
// metricsPath is a server option: a client keeps it as a plugin's.
void weft.connect('ws://x/primus', { metricsPath: '/m' });
// @ts-expect-error: a record's level is never 'off'
observed.on('log', (r: weft.LogRecord) => r.level === 'off');
// @ts-expect-error: types take the message type names
server.transform('incoming', () => {}, { types: ['set'] });
// @ts-expect-error: types are for incoming transforms
server.transform('outgoing', () => {}, { types: ['string'] });
