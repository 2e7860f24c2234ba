'use strict';
// Prints the core's C sources (core/sources.txt, the one list) as paths
// relative to node/, for binding.gyp's command expansion.
const fs = require('node:fs');
const path = require('node:path');
const root = path.resolve(__dirname, '..', '..');
const list = fs.readFileSync(path.join(root, 'core', 'sources.txt'), 'utf8')
  .split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
process.stdout.write(list.map((f) => path.posix.join('..', f)).join(' ') + '\n');
