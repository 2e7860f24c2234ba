// Classic-script build of the recovery module (dist/weft-recovery.min.js),
// loaded after weft.js or primus.js: Weft.recovery (or Primus.recovery).
import { recovery } from './recovery.js';

const W = globalThis.Weft || globalThis.Primus;
W.recovery = recovery;
