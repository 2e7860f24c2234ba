// Types of the optional Vibe module (src/vibe.js; dist/weft-vibe.mjs, imported
// as 'weft-client/vibe', registers Weft.transformers.vibe on import;
// dist/weft-vibe.min.js does the same on the global Weft or Primus).
import type { Weft } from './weft';

/** The transformer "vibe" (Weft.transformers.vibe): checks the transport, returns the socket maker. */
export declare function vibe(client: Weft): (url: string) => Vibe;

/** A Vibe connection behind the WebSocket interface the client drives. */
export declare class Vibe {
  readonly transport: 'ws' | 'httpstream' | 'httplongpoll';
  /** The socket's id over httpstream and httplongpoll (the server's "?id="). */
  readonly id?: string;
}
