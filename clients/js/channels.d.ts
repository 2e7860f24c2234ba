// Types of the optional channels module (src/channels.js; dist/weft-channels.mjs,
// imported as 'weft-client/channels'; dist/weft-channels.min.js sets Weft.channels
// and Weft.Channel).
import type { ChannelsOptions, ChannelsPlugin, Weft } from './weft';
import { Emitter } from './weft';

export type { ChannelsOptions, ChannelsPlugin, ChannelClient } from './weft';

export interface ChannelEvents {
  data: (message: any) => void;
  /** Both sides ended it, or the connection closed. */
  end: () => void;
  /** What waited for the peer's credit has left. */
  drain: () => void;
}

/** A channel of the optional channels module (weft-client/channels, dist/weft-channels.min.js). */
export declare class Channel extends Emitter<ChannelEvents> {
  readonly client: Weft;
  readonly name: string;
  /** Messages waiting for the peer's credit. */
  readonly queued: number;
  /** True once end() was called or the peer ended it. */
  readonly ended: boolean;
  /** true when it left, false when it waits for credit (drain follows); throws a WeftError (ECLOSED) once ended. */
  write(message: any): boolean;
  /** Ends it (what waits is dropped); `end` follows the peer's answer. false when already ended. */
  end(): boolean;
  /** Stops delivering and granting credit. */
  pause(): void;
  /** Delivers what waited, in order, and grants credit again. */
  resume(): void;
}

/** The plugin: client.use('channels', channels({ window })) adds client.channel(name) and the `channel` event. */
export declare function channels(options?: ChannelsOptions): ChannelsPlugin;
export default channels;
