// Classic-script build of the Vibe module (dist/weft-vibe.min.js), loaded
// after weft.js or primus.js: registers the transformer "vibe" on the global
// Weft (or Primus).
import { vibe } from './vibe.js';

(globalThis.Weft || globalThis.Primus).transformers.vibe = vibe;
