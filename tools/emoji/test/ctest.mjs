#!/usr/bin/env node
// ctest entry (tests/emoji.cmake): runs the node:test suites of the emoji tools. The tokenizer suite needs no
// packages and always runs (a failure fails the test); the data-builder suite needs its npm packages
// (npm ci --prefix tools/emoji) and rsvg-convert, and without them the test exits 77 (ctest SKIP_RETURN_CODE).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const runSuite = (file) => spawnSync(process.execPath, ['--test', path.join(here, file)], { stdio: 'inherit' }).status ?? 1;
const tokenizerStatus = runSuite('tokenizer.test.mjs');
if (tokenizerStatus !== 0) process.exit(tokenizerStatus);
const modules = path.join(here, '..', 'node_modules');
const missing = ['pngjs', 'emoji-datasource-twitter', 'emoji-datasource-google', 'openmoji']
  .filter((p) => !fs.existsSync(path.join(modules, p, 'package.json')));
if (missing.length) {
  console.log(`tokenizer suite passed; data suite skipped: ${missing.join(', ')} not installed in ${modules}; run: npm ci --prefix tools/emoji`);
  process.exit(77);
}
if (spawnSync(process.env.RSVG_CONVERT || 'rsvg-convert', ['--version']).status !== 0) {
  console.log('tokenizer suite passed; data suite skipped: rsvg-convert not found; install Debian package librsvg2-bin (tools/install-deps.sh)');
  process.exit(77);
}
process.exit(runSuite('emoji.test.mjs'));
