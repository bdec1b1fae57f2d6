#!/usr/bin/env node
// The `pdm` command. Runs the TypeScript sources through tsx, so there is no separate build step.
// TensorFlow's C++ start-up banner (oneDNN, CPU features) is noise in an operator's logs.
process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
require('tsx/cjs');
require('../src/cli/main.ts').main(process.argv.slice(2));
