// Classic-script build for apps that already load <path>/primus.js: the same
// client under the global name `Primus` (`new Primus(url, options)`,
// `Primus.connect(url, options)`).
import Weft from './weft.js';

class Primus extends Weft {}
globalThis.Primus = Primus;
