// Classic-script build: defines the global `Weft` (served at <path>/weft.js).
import Weft from './weft.js';

globalThis.Weft = Weft;
