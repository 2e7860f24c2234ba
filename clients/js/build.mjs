// Builds dist/ with esbuild: weft.mjs (ES module), weft.min.js (classic
// script, global Weft) and primus.min.js (classic script, global Primus).
// `node build.mjs --check` builds into memory and fails when the committed
// dist/ differs (the C build embeds dist/*.min.js).
import * as esbuild from 'esbuild';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const check = process.argv.includes('--check');
const common = { bundle: true, write: false, target: ['es2020'], legalComments: 'none', charset: 'utf8' };
const outputs = [
  { entryPoints: [join(here, 'src/weft.js')], format: 'esm', minify: false, out: 'dist/weft.mjs' },
  { entryPoints: [join(here, 'src/global.js')], format: 'iife', minify: true, out: 'dist/weft.min.js' },
  { entryPoints: [join(here, 'src/primus.js')], format: 'iife', minify: true, out: 'dist/primus.min.js' }
];
let stale = 0;
mkdirSync(join(here, 'dist'), { recursive: true });
for (const { out, ...opts } of outputs) {
  const res = await esbuild.build({ ...common, ...opts });
  const text = res.outputFiles[0].text;
  const file = join(here, out);
  if (check) {
    let old = null;
    try {
      old = readFileSync(file, 'utf8');
    } catch (e) {}
    if (old !== text) {
      console.error(`${out} is not up to date with src/: run npm run build in clients/js`);
      stale++;
    }
  } else {
    writeFileSync(file, text);
  }
  const gz = gzipSync(Buffer.from(text), { level: 9 }).length;
  console.log(`${out}: ${text.length} bytes, ${gz} bytes gzipped`);
}
process.exit(stale ? 1 : 0);
