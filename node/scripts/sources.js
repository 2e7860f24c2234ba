'use strict';
// Where the addon's C sources are, as paths relative to node/ for
// binding.gyp's command expansions:
//   node scripts/sources.js             the core's sources (core/sources.txt, the one list)
//   node scripts/sources.js --include   the include folders
// In the repository they are around node/ (../core, ../include); in a
// package made by `npm pack` they travel inside it, in csrc/ (copied by
// scripts/vendor.js). gen/include holds weft/version.h, which
// scripts/build.js generates before node-gyp runs.
const fs = require('node:fs');
const path = require('node:path');

const here = path.resolve(__dirname, '..');

/** The folder holding core/ and include/: '..' in the repository, else 'csrc'. */
function sourceRoot() {
  const repo = path.resolve(here, '..');
  const inRepo = path.basename(here) === 'node' &&
    fs.existsSync(path.join(repo, 'core', 'sources.txt')) &&
    fs.existsSync(path.join(repo, 'include', 'weft', 'weft.h'));
  if (inRepo) return '..';
  if (fs.existsSync(path.join(here, 'csrc', 'core', 'sources.txt'))) return 'csrc';
  throw new Error(`weft: the C sources are missing (neither ${repo}/core nor ${here}/csrc/core): ` +
    'a package made without `npm pack`?');
}

function coreSources(root) {
  return fs.readFileSync(path.join(here, root, 'core', 'sources.txt'), 'utf8')
    .split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
    .map((f) => path.posix.join(root, f));
}

module.exports = { here, sourceRoot, coreSources };

if (require.main === module) {
  const root = sourceRoot();
  const out = process.argv[2] === '--include'
    ? [path.posix.join(root, 'include'), path.posix.join(root, 'core'), 'gen/include']
    : coreSources(root);
  process.stdout.write(out.join(' ') + '\n');
}
