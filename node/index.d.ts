// Type definitions for weft (Node front end). See README.md.
/// <reference types="node" />
import { Duplex } from 'node:stream';
import { EventEmitter } from 'node:events';

/**
 * A message: what JSON or msgpack carries. Buffers and typed arrays travel as
 * binary (they arrive as Buffer); integers beyond 2^53 arrive as BigInt.
 */
export type Value =
  | null
  | boolean
  | number
  | bigint
  | string
  | Buffer
  | ArrayBufferView
  | ArrayBuffer
  | Value[]
  | { [key: string]: Value | undefined };

export type ParserName = 'json' | 'msgpack' | 'raw';

/**
 * A transformer's name. The names there are come from the C core at run
 * time (`transformers()`; this build: "websockets", the default), so the
 * type is `string` rather than a list written here; Primus's names are taken
 * in any case ("WebSockets"). An unknown name throws a WeftError with code
 * "EUNSUPPORTED": "unknown transformer 'sockjs' (available: websockets)".
 */
export type TransformerName = string;

/** An error from weft: `code` is an "EINVAL"-style name, `kind` the class of error. */
export class WeftError extends Error {
  code?: string;
  /** "json", "msgpack", "toobig", "utf8", "protocol", "timeout", "transform", "queue", "io", "connect", "tls", "http", ... */
  kind?: string;
  /** Clients, kind "http": the status of a refused upgrade. */
  statusCode?: number;
  /** Clients, kind "http": the body of a refused upgrade. */
  body?: string;
}

/** How much of the core's log a server or client wants ('info' by default); another value throws a TypeError (ERR_INVALID_ARG_VALUE). */
export type LogLevel = 'off' | 'error' | 'warn' | 'info' | 'debug';

/** What a log record is about. */
export type LogEvent =
  // a server's
  | 'listen' | 'connection' | 'disconnection' | 'refused' | 'error' | 'timeout' | 'queue'
  // a client's ('error' too)
  | 'open' | 'close' | 'reconnect' | 'end';

/** One record of the core's log: the 'log' event of the server or client it is about. */
export interface LogRecord {
  level: Exclude<LogLevel, 'off'>;
  event: LogEvent;
  /** One line of text. */
  message: string;
  /** The spark's id, or null. */
  spark: string | null;
  /** An error's kind ("toobig", "json", "queue", "timeout", ...), or null. */
  kind: string | null;
}

/** A server's counters and gauges (server.metrics()): numbers, exact below 2^53. */
export interface Metrics {
  /** Gauge: open sparks. */
  connectionsOpen: number;
  connectionsTotal: number;
  /** Upgrade requests that reached authorization. */
  handshakesTotal: number;
  /** HTTP answers of status 400 and above. */
  refusedTotal: number;
  /** The application's messages (not Primus's pings, pongs and ids). */
  messagesInTotal: number;
  messagesOutTotal: number;
  /** Their encoded payloads (each delivery of a broadcast counts). */
  bytesInTotal: number;
  bytesOutTotal: number;
  /** Gauge: written to sparks, not yet on the wire. */
  queueBytes: number;
  /** Writes that found a full queue. */
  queueRefusedTotal: number;
  heartbeatTimeoutsTotal: number;
  /** Error events, whatever their kind. */
  errorsTotal: number;
}

/** The options of `new Server()` / `createServer()`; an unknown name throws a TypeError. */
export interface ServerOptions {
  /** TCP port; 0 picks a free one. Default 8080. Not with `listen`. */
  port?: number | string;
  /** Bind address, default "0.0.0.0". `hostname` is an alias. Not with `listen`. */
  host?: string;
  hostname?: string;
  /** Default "/primus"; "/" serves every path. Not with `listen`. */
  pathname?: string;
  /**
   * Whole URLs to listen on instead of port/host/pathname (a TypeError with
   * them), one listener each: "ws://127.0.0.1:0/primus", "wss://…" (with
   * `tls`), "ws+unix:///abs/app.sock:/primus" (a Unix-domain socket: the
   * socket's path, ':', the request path), "wss+unix://…". A URL without a
   * path serves "/primus"; "ws://h:p/" serves every path.
   */
  listen?: string | readonly string[];
  /** chmod of the socket files of ws+unix listeners (e.g. 0o660); default: bind()'s 0777 & ~umask. */
  unixMode?: number;
  /** Default "json". */
  parser?: ParserName | Uppercase<ParserName>;
  /** Default "websockets"; see TransformerName. */
  transformer?: TransformerName;
  /** ms between primus::ping heartbeats (30000); false or 0 turns them off. */
  pingInterval?: number | false;
  /** Largest message in bytes (10 MiB); bigger ones close with 1009. */
  maxLength?: number;
  /** Negotiate permessage-deflate. */
  compression?: boolean;
  /** Queued bytes per spark at which write() returns false (1 MiB). */
  highWaterMark?: number;
  /** Memory a spark's queue may hold (64 MiB; each message counts its
   * allocation, not only its bytes); a write beyond it throws ENOBUFS. */
  maxQueue?: number;
  /** What a full queue does: 'close' (default) closes the spark with 1008,
   * 'drop' drops that message; an 'error' event of kind "queue" either way. */
  queuePolicy?: 'close' | 'drop';
  /** Allowed Origins ("*" or a comma-separated list). */
  origins?: string | string[];
  /** Proxies whose X-Forwarded-For is believed. */
  trustedProxies?: string[];
  /** PEM files for wss://. */
  tls?: { cert: string; key: string };
  /** Plugins to register, by name. */
  plugin?: Record<string, Plugin>;
  /** Events with acks (primus-emitter's packets); `timeout`: default ack timeout in ms (10000, 0 none). */
  emitter?: boolean | { timeout?: number };
  /** Rooms (turns the emitter on too). */
  rooms?: boolean;
  /** Named channels; `window`: messages in flight per channel (64, 1..65536). */
  channels?: boolean | { window?: number };
  /** Batch a turn's writes per spark into one frame of at most this many bytes (weft peers only); true: 16384. */
  batching?: boolean | number;
  /** Default ack timeout in ms when `emitter` is `true` (as `emitter: { timeout }`). */
  ackTimeout?: number;
  /**
   * Serve metricsText() for Prometheus on GET/HEAD of this exact path (e.g.
   * "/metrics") on every listener. Off by default. A path not starting with
   * "/" or holding "?", "#", a space or a line break throws code "EINVAL".
   */
  metricsPath?: string;
  /** Records up to this level become 'log' events (when listened to). */
  logLevel?: LogLevel;
  /** Primus's options with nothing for weft to do: accepted, so that a Primus app switches with one line. */
  iknowhttpsisbetter?: boolean;
  iknowclusterwillbreakconnections?: boolean;
  global?: string;
  // No index signature: a misspelt option ({ prot: 9999 }) is a type error,
  // and a TypeError at run time ("unknown Server option "prot" (did you mean "port"?)").
}

/** The error of an ack: code "EREJECTED" (reason: the peer's reason), "ETIMEDOUT" or "ECLOSED". */
export interface AckError extends WeftError {
  code: 'EREJECTED' | 'ETIMEDOUT' | 'ECLOSED';
  kind: 'emitter';
  /** EREJECTED: the reason the peer gave, as sent. */
  reason?: any;
}
export type AckCallback = (err: AckError | null, value?: any) => void;

/**
 * The answer handle a handler gets (last argument) when the sender waits:
 * ack(null, value) / ack(err) Node's way, or ack.resolve(value) / ack.reject(reason).
 * The first answer counts; later ones return false. A handler that returns a
 * promise answers with it unless it called the ack.
 */
export interface Ack {
  (err?: Error | string | null | unknown, value?: Value): boolean;
  resolve(value?: Value): boolean;
  reject(reason?: Error | Value): boolean;
  readonly answered: boolean;
}

export interface RequestOptions {
  /** ms to wait for the answer (the emitter's default otherwise; 0 waits forever). */
  timeout?: number;
}

/** The sparks in some rooms (all sparks when none named) but some ids. */
export interface Target {
  readonly server: Server;
  /** Set by server.room(name). */
  name?: string;
  to(...rooms: (string | string[])[]): Target;
  except(...ids: (string | string[])[]): Target;
  /** Ids of the sparks it reaches now. */
  clients(): string[];
  sparks(): Spark[];
  /** Writes to each of them once (encoded once); returns how many. */
  write(data: Value): number;
  /** Emits an event to each of them (no acks); returns how many. */
  send(event: string, ...args: Value[]): number;
}

/**
 * A named channel over one spark or client: a Duplex in object mode with its
 * own flow control (write() false while the peer grants no credit, then 'drain').
 */
export class Channel extends Duplex {
  readonly name: string;
  /** The spark on a server, null on a client. */
  readonly spark: Spark | null;
  /** Messages waiting for the peer's credit. */
  readonly queued: number;
  write(data: Value, cb?: (err?: Error | null) => void): boolean;
  write(data: Value, encoding?: BufferEncoding, cb?: (err?: Error | null) => void): boolean;
  on(event: 'data', listener: (data: any) => void): this;
  on(event: 'end' | 'drain' | 'close' | 'finish', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

export interface Packet {
  data: any;
}
/**
 * fn(packet) changes packet.data or returns false to drop the message;
 * fn(packet, next) is asynchronous: next(err, false) drops.
 */
export type Transform = (
  this: Spark,
  packet: Packet,
  next: (err?: Error | null, keep?: boolean) => void
) => void | boolean;

export interface Plugin {
  server?: (server: Server, options: ServerOptions) => void;
  client?: (...args: any[]) => void;
  [key: string]: unknown;
}

export interface AuthRequest {
  /** Request headers, looked up by (case-insensitive) name. */
  headers: Record<string, string | undefined>;
  url: string;
  query: Record<string, string>;
  address: string;
  method: 'GET';
  socket: { remoteAddress: string };
  connection: { remoteAddress: string };
}
export type AuthDone = (err?: (Error & { statusCode?: number; status?: number }) | null) => void;

export interface DestroyOptions {
  /** Leave out primus::server::close so clients reconnect. */
  reconnect?: boolean;
  /** Longest wait in ms for the sparks' closing handshakes (1000). */
  timeout?: number;
  close?: boolean;
  end?: boolean;
}

/** One connection on the server: a Duplex stream in object mode. */
export class Spark extends Duplex {
  static readonly OPENING: 1;
  static readonly CLOSED: 2;
  static readonly OPEN: 3;
  readonly id: string;
  /** Request headers, lower-case names. */
  readonly headers: Record<string, string>;
  readonly address: { ip: string; port: number };
  readonly query: Record<string, string>;
  readonly url: string;
  readonly primus: Server;
  readyState: 1 | 2 | 3;
  readonly bufferedAmount: number;
  /**
   * Writes a message. false: at the high-water mark ('drain' follows) or closed.
   * Throws for values that cannot be encoded and when the queue is full (ENOBUFS).
   */
  write(data: Value, cb?: (err?: Error | null) => void): boolean;
  write(data: Value, encoding?: BufferEncoding, cb?: (err?: Error | null) => void): boolean;
  /** Writes data when given, then closes (primus::server::close unless reconnect). */
  end(data?: Value, options?: { reconnect?: boolean }): this;
  end(cb?: () => void): this;

  // ---- events with acks (option emitter) ----
  /** primus-emitter's send: with a trailing callback the peer answers. Returns write()'s boolean. */
  send(event: string, ...args: [...Value[], AckCallback] | Value[]): boolean;
  /** Promise form of send() with an answer. */
  request<T = any>(event: string, args?: Value[], options?: RequestOptions): Promise<T>;
  // ---- rooms (option rooms) ----
  join(room: string): this;
  leave(room: string): this;
  leaveAll(): this;
  rooms(): string[];
  inRoom(room: string): boolean;
  /** Sparks in these rooms, but this one. */
  to(...rooms: (string | string[])[]): Target;
  /** Every spark but this one. */
  readonly broadcast: Target;
  // ---- channels (option channels) ----
  channel(name: string): Channel;

  on(event: 'data', listener: (data: any) => void): this;
  on(event: 'end' | 'drain' | 'close' | 'finish', listener: () => void): this;
  on(event: 'error', listener: (err: WeftError) => void): this;
  on(event: 'channel', listener: (channel: Channel) => void): this;
  /** '*': every remote event without a listener of its own: (name, ...args, ack?). */
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

/** A Primus-compatible server; it listens at construction. */
export class Server extends EventEmitter {
  constructor(options?: ServerOptions);
  readonly options: ServerOptions;
  readonly parser: ParserName;
  /** The first listener's pathname ("/primus"). */
  readonly pathname: string;
  /** The first listener's port (0 for a Unix socket). */
  readonly port: number;
  /** The first listener's host ("" for a Unix socket). */
  readonly host: string;
  /** The first listener's URL, port resolved: "ws://host:port/pathname", "ws+unix:///abs/app.sock:/primus". */
  readonly url: string;
  /** Every listener's URL, in the order of `listen`. */
  readonly urls: readonly string[];
  /** Primus's `primus.server` (the HTTP server); the server itself here. */
  readonly server: this;
  readonly listening: boolean;
  /** Number of open sparks. */
  readonly connected: number;
  /** As net.Server#address(): the first listener's address, the socket's path for a Unix socket, null once closed. */
  address(): { address: string; family: 'IPv4' | 'IPv6'; port: number } | string | null;
  spark(id: string): Spark | undefined;
  forEach(fn: (spark: Spark, id: string, sparks: Map<string, Spark>) => boolean | void): this;
  forEach(fn: (spark: Spark, next: (err?: Error | null, more?: boolean) => void) => void, done: (err?: Error) => void): this;
  /** Broadcast to every open spark (encoded once). */
  write(data: Value): boolean;
  authorize(fn: ((req: AuthRequest, done: AuthDone) => void) | null): this;
  transform(type: 'incoming' | 'outgoing', fn: Transform): this;
  use(name: string, plugin: Plugin | string): this;
  plugin(name: string): Plugin | undefined;
  plugin(): Record<string, Plugin>;
  destroy(options?: DestroyOptions, fn?: () => void): this;
  destroy(fn: () => void): this;
  close(fn?: () => void): this;

  /** Emits an event to every spark (no acks; encoded once). Returns how many. */
  send(event: string, ...args: Value[]): number;
  /** Sparks in any of these rooms. */
  to(...rooms: (string | string[])[]): Target;
  in(...rooms: (string | string[])[]): Target;
  /** Every spark but these ids. */
  except(...ids: (string | string[])[]): Target;
  room(name: string): Target & { name: string };
  /** Rooms that have members. */
  rooms(): string[];
  /** The counters and gauges now. Throws code "ECLOSED" once closed. */
  metrics(): Metrics;
  /** The same in Prometheus's text exposition format (0.0.4). Throws code "ECLOSED" once closed. */
  metricsText(): string;
  /** Lets clients join/leave rooms: return true to allow (synchronously); null turns it off. */
  roomsPolicy(fn: ((spark: Spark, room: string, join: boolean) => boolean) | null): this;

  on(event: 'channel', listener: (channel: Channel, spark: Spark) => void): this;
  on(event: 'connection' | 'disconnection', listener: (spark: Spark) => void): this;
  on(event: 'error', listener: (err: WeftError, spark?: Spark) => void): this;
  on(event: 'close', listener: () => void): this;
  /** The core's records about this server, emitted on the next tick. */
  on(event: 'log', listener: (record: LogRecord) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

export interface ReconnectOptions {
  /** First delay in ms (500). */
  min?: number;
  /** Largest delay in ms (Infinity). */
  max?: number;
  /** Attempts before 'reconnect failed' (10). */
  retries?: number;
  /** Backoff factor (2). */
  factor?: number;
}

/** The options of `new Client()` / `connect()` / `createSocket()`; an unknown name throws a TypeError. */
export interface ClientOptions {
  parser?: ParserName | Uppercase<ParserName>;
  /** Default "websockets"; see TransformerName. */
  transformer?: TransformerName;
  reconnect?: ReconnectOptions;
  /** "disconnect,online,timeout" (default), a list, or false for none. */
  strategy?: string | string[] | false;
  /** ms for the first connection to open (10000); false turns it off. */
  timeout?: number | false;
  /** ms without a ping before the connection is taken for dead. */
  pingTimeout?: number | false;
  /** Do not connect until open() is called. */
  manual?: boolean;
  /** Largest incoming message (10 MiB). */
  maxLength?: number;
  /** Bytes held while offline before write() throws ENOBUFS (unbounded). */
  queueSize?: number;
  /** Keep reconnecting after a refused upgrade (401, 403, ...). */
  retryRefused?: boolean;
  /** Extra request headers. */
  headers?: Record<string, string>;
  transport?: { headers?: Record<string, string> };
  /** PEM file of CAs to trust for wss://. */
  ca?: string;
  /** false turns certificate verification off (tests only). */
  rejectUnauthorized?: boolean;
  /** Events with acks; `timeout`: default ack timeout in ms. */
  emitter?: boolean | { timeout?: number };
  /** Named channels; `window` as the server's. */
  channels?: boolean | { window?: number };
  /** Batching of this client's writes (bytes; true: 16384). */
  batching?: boolean | number;
  /** Default ack timeout in ms when `emitter` is `true`. */
  ackTimeout?: number;
  /** Records up to this level become 'log' events (when listened to). */
  logLevel?: LogLevel;
  // As ServerOptions: an unknown option is a type error and a TypeError.
}

export interface ReconnectInfo {
  attempt: number;
  retries: number;
  /** The wait before this attempt, ms. */
  scheduled: number;
  backoff: number;
}

/** A Primus-compatible client: a Duplex stream in object mode. */
export class Client extends Duplex {
  static readonly OPENING: 1;
  static readonly CLOSED: 2;
  static readonly OPEN: 3;
  /** ws://, wss:// (http(s):// too), or ws+unix:///abs/app.sock:/primus over a Unix-domain socket. */
  constructor(url: string, options?: ClientOptions);
  readonly url: string;
  readonly options: ClientOptions;
  readonly readyState: 1 | 2 | 3;
  readonly bufferedAmount: number;
  open(): this;
  /** Sends, or queues while offline. false once ended. Throws when unencodable. */
  write(data: Value, cb?: (err?: Error | null) => void): boolean;
  write(data: Value, encoding?: BufferEncoding, cb?: (err?: Error | null) => void): boolean;
  end(data?: Value): this;
  end(cb?: () => void): this;
  destroy(err?: Error): this;
  id(fn: (id: string) => void): this;
  setOnline(online: boolean): this;
  send(event: string, ...args: [...Value[], AckCallback] | Value[]): boolean;
  request<T = any>(event: string, args?: Value[], options?: RequestOptions): Promise<T>;
  /** Asks the server to put this client in a room (its roomsPolicy decides). */
  join(room: string): Promise<void>;
  join(room: string, cb: (err: AckError | WeftError | null) => void): this;
  leave(room: string): Promise<void>;
  leave(room: string, cb: (err: AckError | WeftError | null) => void): this;
  channel(name: string): Channel;

  on(event: 'channel', listener: (channel: Channel) => void): this;
  on(event: 'open' | 'end' | 'close' | 'timeout' | 'online' | 'offline' | 'destroy', listener: () => void): this;
  on(event: 'data', listener: (data: any) => void): this;
  on(event: 'error', listener: (err: WeftError) => void): this;
  on(event: 'reconnect scheduled' | 'reconnect' | 'reconnected', listener: (opts: ReconnectInfo) => void): this;
  on(event: 'reconnect failed' | 'reconnect timeout', listener: (err: WeftError, opts: ReconnectInfo) => void): this;
  /** The core's records about this client (open, close, error, reconnect, end), emitted on the next tick. */
  on(event: 'log', listener: (record: LogRecord) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}
export { Client as Socket };

/** Primus.createServer(fn?, options): a listening Server. */
export function createServer(fn: (spark: Spark) => void, options?: ServerOptions): Server;
export function createServer(options?: ServerOptions): Server;
/** A Client class with default options, as Primus.createSocket(). */
export function createSocket(options?: ClientOptions): new (url: string, options?: ClientOptions) => Client;
/** new Client(url, options). */
export function connect(url: string, options?: ClientOptions): Client;
/** The transformer names this build has, from the C core (a new array each call). */
export function transformers(): string[];
/** Encodes a value with a parser into a Buffer. */
export function encode(parser: 'json' | 'msgpack', value: Value): Buffer;
/** Decodes a Buffer (or string) with a parser. */
export function decode(parser: 'json' | 'msgpack', data: Buffer | string): any;
export const version: string;
