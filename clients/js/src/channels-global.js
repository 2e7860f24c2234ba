// Classic-script build of the channels module (dist/weft-channels.min.js),
// loaded after weft.js or primus.js: Weft.channels (or Primus.channels).
import { channels, Channel } from './channels.js';

const W = globalThis.Weft || globalThis.Primus;
W.channels = channels;
W.Channel = Channel;
