#!/usr/bin/env node
// ctest entry (tests/emoji.cmake): runs the node:test suite of the emoji data builder, or exits 77
// (ctest SKIP_RETURN_CODE) when its npm packages (npm ci --prefix tools/emoji) or rsvg-convert are missing.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = path.join(here, '..', 'node_modules');
const missing = ['pngjs', 'emoji-datasource-twitter', 'emoji-datasource-google', 'openmoji']
  .filter((p) => !fs.existsSync(path.join(modules, p, 'package.json')));
if (missing.length) {
  console.log(`skipped: ${missing.join(', ')} not installed in ${modules}; run: npm ci --prefix tools/emoji`);
  process.exit(77);
}
if (spawnSync(process.env.RSVG_CONVERT || 'rsvg-convert', ['--version']).status !== 0) {
  console.log('skipped: rsvg-convert not found; install Debian package librsvg2-bin (tools/install-deps.sh)');
  process.exit(77);
}
const r = spawnSync(process.execPath, ['--test', path.join(here, 'emoji.test.mjs')], { stdio: 'inherit' });
process.exit(r.status ?? 1);
