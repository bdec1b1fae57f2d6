#!/usr/bin/env node
// The `pdm` command. Runs the compiled JavaScript in dist/ (`npm run build`; setup and `npm test` build
// it). In a checkout, where src/ sits beside it, dist/ is used only when it is at least as new as every
// source file; otherwise it compiles them first (a few seconds, once per change), so a stale build never
// runs old code. The image ships dist/ without src/.
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync, statSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

// TensorFlow's C++ start-up banner (oneDNN, CPU features) is noise in an operator's logs.
process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
process.setSourceMapsEnabled(true);

const root = join(__dirname, '..');
const built = join(root, 'dist', 'cli', 'main.js');
// Written by `npm run build` after tsc succeeds (an incremental build leaves unchanged outputs' times alone).
const stamp = join(root, 'dist', '.built');
const sources = join(root, 'src');

/** The newest modification time of a .ts file under `dir`. */
function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function entry() {
  if (!existsSync(sources)) return built;
  if (existsSync(built) && existsSync(stamp) && statSync(stamp).mtimeMs >= newestSource(sources))
    return built;
  // A checkout whose sources changed since the last build: compile first (what `npm run build` does), so a
  // stale build never runs old code. Not tsx: the commands load their modules with import() (keeping `--help`
  // free of TensorFlow), which tsx's CommonJS hook does not serve. The compiler's output goes to stderr:
  // stdout carries command output (`pdm train --once` prints its JSON summary there).
  let tsc;
  try {
    tsc = require.resolve('typescript/bin/tsc');
  } catch {
    process.stderr.write(
      'pdm: dist/ is missing or older than src/, and typescript (a development dependency) is not installed: run `npm run build`\n',
    );
    process.exit(1);
  }
  process.stderr.write('pdm: src/ changed since the last build: compiling (npm run build)\n');
  const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
    cwd: root,
    stdio: ['ignore', 2, 2],
  });
  if (result.status !== 0) {
    process.stderr.write(
      'pdm: the build failed (type errors above); fix them or run an older build with `git stash`\n',
    );
    process.exit(1);
  }
  writeFileSync(stamp, '');
  return built;
}

require(entry()).main(process.argv.slice(2));
