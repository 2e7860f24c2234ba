// ES module build of the Vibe module (dist/weft-vibe.mjs): registers the
// transformer "vibe" on weft.mjs's Weft.
import { Weft } from './weft.js';
import { vibe, Vibe } from './vibe.js';

Weft.transformers.vibe = vibe;
export { vibe, Vibe };
