#!/usr/bin/env node
// The `pdm` command. Runs the TypeScript sources through tsx, so there is no separate build step.
require('tsx/cjs');
require('../src/cli/main.ts').main(process.argv.slice(2));
