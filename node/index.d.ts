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

export interface ServerOptions {
  /** TCP port; 0 picks a free one. Default 8080. */
  port?: number | string;
  /** Bind address, default "0.0.0.0". `hostname` is an alias. */
  host?: string;
  hostname?: string;
  /** Default "/primus". */
  pathname?: string;
  /** Default "json". */
  parser?: ParserName | Uppercase<ParserName>;
  /** Only "websockets" is supported (the default). */
  transformer?: 'websockets';
  /** ms between primus::ping heartbeats (30000); false or 0 turns them off. */
  pingInterval?: number | false;
  /** Largest message in bytes (10 MiB); bigger ones close with 1009. */
  maxLength?: number;
  /** Negotiate permessage-deflate. */
  compression?: boolean;
  /** Queued bytes per spark at which write() returns false (1 MiB). */
  highWaterMark?: number;
  /** Queued bytes per spark beyond which write() throws ENOBUFS (64 MiB). */
  maxQueue?: number;
  /** Allowed Origins ("*" or a comma-separated list). */
  origins?: string | string[];
  /** Proxies whose X-Forwarded-For is believed. */
  trustedProxies?: string[];
  /** PEM files for wss://. */
  tls?: { cert: string; key: string };
  /** Plugins to register, by name. */
  plugin?: Record<string, Plugin>;
  [key: string]: unknown;
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

  on(event: 'data', listener: (data: any) => void): this;
  on(event: 'end' | 'drain' | 'close' | 'finish', listener: () => void): this;
  on(event: 'error', listener: (err: WeftError) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

/** A Primus-compatible server; it listens at construction. */
export class Server extends EventEmitter {
  constructor(options?: ServerOptions);
  readonly options: ServerOptions;
  readonly parser: ParserName;
  readonly pathname: string;
  readonly port: number;
  readonly host: string;
  /** "ws://host:port/pathname" */
  readonly url: string;
  /** Primus's `primus.server` (the HTTP server); the server itself here. */
  readonly server: this;
  readonly listening: boolean;
  /** Number of open sparks. */
  readonly connected: number;
  address(): { address: string; family: 'IPv4' | 'IPv6'; port: number } | null;
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

  on(event: 'connection' | 'disconnection', listener: (spark: Spark) => void): this;
  on(event: 'error', listener: (err: WeftError, spark?: Spark) => void): this;
  on(event: 'close', listener: () => void): this;
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

export interface ClientOptions {
  parser?: ParserName | Uppercase<ParserName>;
  transformer?: 'websockets';
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

  on(event: 'open' | 'end' | 'close' | 'timeout' | 'online' | 'offline' | 'destroy', listener: () => void): this;
  on(event: 'data', listener: (data: any) => void): this;
  on(event: 'error', listener: (err: WeftError) => void): this;
  on(event: 'reconnect scheduled' | 'reconnect' | 'reconnected', listener: (opts: ReconnectInfo) => void): this;
  on(event: 'reconnect failed', listener: (err: WeftError, opts: ReconnectInfo) => void): this;
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
/** Encodes a value with a parser into a Buffer. */
export function encode(parser: 'json' | 'msgpack', value: Value): Buffer;
/** Decodes a Buffer (or string) with a parser. */
export function decode(parser: 'json' | 'msgpack', data: Buffer | string): any;
export const version: string;
