// Types of weft's browser client (src/weft.js; dist/weft.mjs, the global
// `Weft` of dist/weft.min.js and the global `Primus` of dist/primus.min.js).
// The optional channels module's own types are in channels.d.ts.
import type { Channel } from './channels';

/**
 * A message: what JSON carries, plus binary (Uint8Array) with msgpack or as a binary frame.
 * With json, binary inside a message (a Uint8Array, another view, an ArrayBuffer) is written
 * as {"type": "Buffer", "data": [...bytes]} and read back as that object (as the C core and Node).
 * Ints beyond 2^53 (within int64) are BigInt, as with msgpack; with json only where the browser
 * has JSON.parse's source text access and JSON.rawJSON (Chromium 114+): elsewhere they are read
 * as doubles, and writing a BigInt is an encode error.
 */
export type Message =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | Message[]
  | { [key: string]: Message };

export interface ReconnectOptions {
  /** First wait in ms (500). */
  min?: number;
  /** Longest wait in ms (Infinity). */
  max?: number;
  /** Attempts before giving up (10). */
  retries?: number;
  /** Growth per attempt (2). */
  factor?: number;
}

export type Strategy = 'disconnect' | 'online' | 'timeout' | 'none';

export interface WeftOptions {
  /** "json" or "msgpack"; by default the server's, read from <path>/spec (json when unknown). */
  parser?: 'json' | 'msgpack';
  /** Pathname when the URL has none ("/primus"). */
  pathname?: string;
  reconnect?: ReconnectOptions;
  /** When to reconnect: a comma-separated list or an array; false never reconnects. */
  strategy?: string | Strategy[] | false;
  /** ms for a connection to open (10000); 0 or false turns it off. */
  timeout?: number | false;
  /** ms without a server ping before the connection is taken for dead; by default 1.5 × the spec's pingInterval, else 45000; 0 or false off. */
  pingTimeout?: number | false;
  /** Bytes of writes held while not open; 0 = unbounded (writes beyond it return false). */
  queueLimit?: number;
  /** Do not connect until open() is called. */
  manual?: boolean;
  /** false: ignore the browser's online/offline events. */
  network?: boolean;
  /** A WebSocket constructor (tests, non-browser hosts). */
  WebSocket?: unknown;
  /** A fetch function for <path>/spec (tests, non-browser hosts). */
  fetch?: unknown;
  /** A source of numbers in [0, 1) for the backoff (tests). */
  random?: () => number;
  /** Events with acknowledgements (primus-emitter's packets): send(), request(), join(); events from the server reach listeners by name. `{timeout}` is the default ack timeout in ms (10000). */
  emitter?: boolean | { timeout?: number };
  /**
   * Batching (as the C client's weft_client_set_batching): what one turn writes while open
   * leaves as one {"weft::batch": [...]} frame of at most this many bytes (true: 16384;
   * false or 0: off). A message larger than that, or binary with json, leaves on its own
   * after what was batched. Negative or non-numeric values throw a TypeError.
   */
  batching?: boolean | number;
  /** Plugins registered at construction, by name: the same as use(name, plugin) for each. */
  plugin?: { [name: string]: Plugin };
  /**
   * The framing: "websockets" (default) or "engine.io", or one an optional module registered in
   * Weft.transformers ("vibe" after weft-vibe.js). Another name throws a TypeError.
   */
  transformer?: 'websockets' | 'engine.io' | 'vibe' | (string & {});
  /**
   * With the "vibe" transformer: Vibe's transport, "ws" (default), "httpstream" or
   * "httplongpoll"; the URL's ?transport=ws|stream|longpoll may say it instead, and with both
   * they must agree (else a TypeError).
   */
  transport?: 'ws' | 'httpstream' | 'httplongpoll';
}

export interface ChannelsOptions {
  /** Messages each side may send before the receiver grants more (64): an integer in 1..65536, else a TypeError. */
  window?: number;
}

/** What a transform sees: change `data` to change the message. */
export interface Packet {
  data: any;
}

/**
 * Primus's transforms. Synchronous: fn(packet) changes packet.data, or returns false to drop
 * the message. Asynchronous (declared with two parameters): fn(packet, next); next(err) fails
 * (the message is dropped, an error event of kind "transform", code err.code when a string,
 * else ETRANSFORM), next(null, false) drops, next() goes on. A throw fails the same way.
 * `this` is the client.
 */
export type Transform = (this: Weft, packet: Packet, next: (err?: unknown, keep?: false) => void) => boolean | void;

/** A Primus plugin: `client(client, options)` runs when it is registered; `server` is not run here. */
export interface Plugin {
  client?: (client: Weft, options: WeftOptions) => void;
  server?: (...args: any[]) => void;
  [key: string]: unknown;
}

export interface ReconnectInfo {
  /** 1 for the first retry. */
  attempt: number;
  retries: number;
  /** The wait before this attempt, ms. */
  delay: number;
  /** Same as delay (Primus's name). */
  scheduled: number;
}

/** weft's code names (include/weft/weft.h's table), and ETRANSFORM for a transform's own failure. */
export type WeftCode =
  | 'EIO' | 'EPARSE' | 'ETYPE' | 'EREJECTED' | 'ETIMEDOUT' | 'ECLOSED' | 'ETRANSFORM' | 'EEXIST' | 'EPROTO' | 'EUNSUPPORTED';

export declare class WeftError extends Error {
  /** "connect", "json", "msgpack", "encode", "transform", "channel" (a bad channel packet: EPARSE, EPROTO, EUNSUPPORTED); "emitter" (a bad packet), "rejected" (see reason), "timeout", "closed" for acks; "reconnect" (retries ran out). */
  kind: string;
  /**
   * weft's code name of the failure, as the C core and the other hosts report it:
   * connect EIO; json, msgpack, emitter EPARSE; encode ETYPE; rejected EREJECTED;
   * timeout and reconnect ETIMEDOUT; closed ECLOSED.
   */
  code: WeftCode | string;
  /** The server's rejection reason (kind "rejected"). */
  reason?: unknown;
  /** Byte offset of a decoding failure (msgpack). */
  offset?: number;
  /** WebSocket close code of a failed connection (kind "connect"). */
  closeCode?: number;
}

export interface WeftEvents {
  open: () => void;
  data: (message: any) => void;
  error: (err: WeftError) => void;
  close: () => void;
  end: () => void;
  timeout: () => void;
  'reconnect scheduled': (info: ReconnectInfo) => void;
  reconnect: (info: ReconnectInfo) => void;
  reconnected: (info: ReconnectInfo) => void;
  'reconnect failed': (err: WeftError, info: ReconnectInfo) => void;
  'reconnect timeout': (err: WeftError, info: ReconnectInfo) => void;
  online: () => void;
  offline: () => void;
  id: (id: string) => void;
  /** The server opened a channel (with the channels plugin); without a listener it is refused. */
  channel: (channel: Channel) => void;
}

/** The plugin channels() returns; registering it adds channel() to the client. */
export interface ChannelsPlugin extends Plugin {
  client: (client: Weft, options: WeftOptions) => void;
}

/** A client with the channels plugin registered. */
export interface ChannelClient {
  /**
   * Opens the channel `name` (or finds the open one). Throws a TypeError on a bad name
   * (1..255 bytes of UTF-8 without NUL), a WeftError (code ECLOSED) when the client is
   * not open or the channel is still ending.
   */
  channel(name: string): Channel;
}

export declare class Emitter<Events extends { [K in keyof Events]: (...args: any[]) => void }> {
  on<K extends keyof Events>(name: K, fn: Events[K]): this;
  addListener<K extends keyof Events>(name: K, fn: Events[K]): this;
  once<K extends keyof Events>(name: K, fn: Events[K]): this;
  off<K extends keyof Events>(name?: K, fn?: Events[K]): this;
  removeListener<K extends keyof Events>(name?: K, fn?: Events[K]): this;
  removeAllListeners<K extends keyof Events>(name?: K): this;
  emit<K extends keyof Events>(name: K, ...args: Parameters<Events[K]>): boolean;
  listeners<K extends keyof Events>(name: K): Events[K][];
}

export interface Parser {
  name: 'json' | 'msgpack';
  encode(value: any): string | Uint8Array;
  decode(frame: string | ArrayBuffer): any;
}

export declare class Weft extends Emitter<WeftEvents> {
  /** "ws://host:port/primus?query" or wss:. Without a URL: the page's origin. */
  constructor(url?: string | URL, options?: WeftOptions);
  constructor(options: WeftOptions);
  static connect(url?: string | URL, options?: WeftOptions): Weft;
  static readonly OPENING: 1;
  static readonly CLOSED: 2;
  static readonly OPEN: 3;
  static readonly version: string;
  static backoff: typeof backoff;
  static parsers: typeof parsers;
  static WeftError: typeof WeftError;
  /** The event emitter the client and optional modules (weft-channels) build on. */
  static Emitter: typeof Emitter;
  /** Set by the classic script dist/weft-channels.min.js. */
  static channels?: (options?: ChannelsOptions) => ChannelsPlugin;
  static Channel?: typeof Channel;
  /**
   * Framings from optional modules, by transformer name (weft-vibe.js sets "vibe"): called with
   * the client being constructed, each sets it up and returns what makes its socket from the URL.
   */
  static transformers: { [name: string]: (client: Weft) => (url: string) => unknown };

  readonly url: string;
  readonly options: WeftOptions;
  /** Weft.OPENING, Weft.CLOSED or Weft.OPEN. */
  readonly readyState: 1 | 2 | 3;
  /** false after an offline event until online. */
  readonly online: boolean;
  /** Bytes written and not yet sent (queued while offline included). */
  readonly bufferedAmount: number;

  /** Starts connecting; false when already open, opening, ended, or offline. */
  open(): boolean;
  /**
   * Sends past the outgoing transforms, or queues while not open; false when ended, over
   * queueLimit, or not encodable; true when a transform dropped it or holds it.
   */
  write(data: any): boolean;
  /**
   * Adds a transform, run in the order added: "incoming" on what the server sends (after
   * the emitter's packets), "outgoing" on what write() sends (not on the emitter's packets).
   * Throws a TypeError on another type or a non-function.
   */
  transform(type: 'incoming' | 'outgoing', fn: Transform): this;
  /**
   * Registers a plugin and runs its `client(client, options)` now. Throws a TypeError on an
   * empty name or a plugin with neither function, a WeftError (code EEXIST) when the name is
   * taken; when `client` throws, the plugin is not registered and the exception propagates.
   */
  use(name: string, plugin: ChannelsPlugin): this & ChannelClient;
  use(name: string, plugin: Plugin): this;
  /** The plugin registered under `name` (undefined when none), or all of them by name. */
  plugin(name: string): Plugin | undefined;
  plugin(): { [name: string]: Plugin };
  /** Asks for the spark id; fn and the `id` event answer. */
  id(fn?: (id: string) => void): boolean;
  /** Tells the client the network went away (false) or came back (true). */
  setOnline(online: boolean): void;
  /** Closes for good (writes `data` first when open); false when already ended. */
  end(data?: any): boolean;
  /** end() and remove every listener. */
  destroy(): void;
  /** Emits an event to the server (needs the emitter option); a trailing callback asks for an answer: cb(err, value). */
  send(event: string, ...args: any[]): boolean;
  /** A listener for an event the server emits (emitter option): fn(...args, ack?) — `on` for any name, typed loosely. */
  onEvent(event: string, fn: (...args: any[]) => void): this;
  /** The promise form of send with an answer. */
  request(event: string, args?: any[], options?: { timeout?: number }): Promise<any>;
  /** Asks the server to put this connection in a room (its rooms policy decides). */
  join(room: string): Promise<void>;
  leave(room: string): Promise<void>;
  /** Asks the server to take this connection out of every room it is in. */
  leaveAll(): Promise<void>;
}

/** min(round((rand + 1) * min * factor^(attempt-1)), max). */
export declare function backoff(attempt: number, options?: ReconnectOptions, rand?: number): number;
export declare const parsers: { json: Parser; msgpack: Parser };

export default Weft;

declare global {
  /** The classic-script builds' globals. */
  var Weft: typeof import('./weft').Weft;
  var Primus: typeof import('./weft').Weft;
}
