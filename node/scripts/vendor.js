'use strict';
// npm pack's prepack and postpack (package.json): the tarball must build
// alone, so the C sources the addon compiles travel inside it.
//   node scripts/vendor.js           copies ../core, ../include and ../LICENSE into node/
//                                    (csrc/core, csrc/include, LICENSE)
//   node scripts/vendor.js --clean   removes them again
// Both are git-ignored; scripts/sources.js prefers the repository's own
// sources whenever node/ sits in the repository.
const fs = require('node:fs');
const path = require('node:path');

const here = path.resolve(__dirname, '..');
const repo = path.resolve(here, '..');
const csrc = path.join(here, 'csrc');
const license = path.join(here, 'LICENSE');

fs.rmSync(csrc, { recursive: true, force: true });
fs.rmSync(license, { force: true });
if (process.argv[2] !== '--clean') {
  for (const dir of ['core', 'include']) {
    fs.cpSync(path.join(repo, dir), path.join(csrc, dir), { recursive: true });
  }
  fs.copyFileSync(path.join(repo, 'LICENSE'), license);
}
