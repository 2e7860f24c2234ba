// Types of the optional recovery module (src/recovery.js; dist/weft-recovery.mjs,
// imported as 'weft-client/recovery'; dist/weft-recovery.min.js sets Weft.recovery).
import type { Plugin, Weft, WeftOptions } from './weft';

/** The plugin recovery() returns; registering it adds `recovered` and the `recovered` event. */
export interface RecoveryPlugin extends Plugin {
  client: (client: Weft, options: WeftOptions) => void;
}

/** A client with the recovery plugin registered. */
export interface RecoveryClient {
  /** true while the current connection resumed its session (same spark id, rooms, missed messages). */
  readonly recovered: boolean;
  /** The session was resumed: its spark id; emitted before that connection's messages. */
  on(event: 'recovered', listener: (id: string) => void): this;
}

/**
 * Connection-state recovery with a weft server that has it on: the first connection asks for a
 * session, later ones resume it. client.use('recovery', recovery()).
 */
export declare function recovery(): RecoveryPlugin;
export default recovery;
