#!/usr/bin/env node
// Prints the image statistics issue #9 measures LoRA effects with, for data sets and generated images:
//   node tools/emoji/measure.mjs DIR_OR_PNG... [--ref DIR_OR_PNG]... [--json] [--per-image]
// Formulas: lib/stats.mjs and docs/emoji-data.md ("Measurements").
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseHexColor, readPng } from './lib/image.mjs';
import { imageStats, setStats } from './lib/stats.mjs';

const USAGE = `usage: node tools/emoji/measure.mjs DIR_OR_PNG... [--ref DIR_OR_PNG]... [--json] [--per-image] [--background RRGGBB]
  Directories are searched recursively for *.png (sorted by path). Alpha is composited onto --background
  (default ffffff) first. Each --ref (a directory or PNG) is one reference set: histogram distance
  and silhouette IoU against it are printed.`;

/** PNG files under the given paths: files as given, directories recursively, each group sorted by path. */
export function collectPngs(paths) {
  const out = [];
  const walk = (p) => {
    let st;
    try {
      st = fs.statSync(p);
    } catch (err) {
      throw new Error(`${p}: cannot read (${err.code || err.message})`);
    }
    if (st.isDirectory()) {
      for (const name of fs.readdirSync(p).sort()) {
        const q = path.join(p, name);
        if (fs.statSync(q).isDirectory() || name.toLowerCase().endsWith('.png')) walk(q);
      }
    } else {
      out.push(p);
    }
  };
  for (const p of paths) walk(p);
  return out;
}

/** Per-image statistics of the PNG files under `paths`; throws naming the path when there are none. */
function statsOf(paths, bg) {
  const files = collectPngs(paths);
  if (!files.length) throw new Error(`${paths.join(' ')}: no PNG files`);
  return { files, stats: files.map((f) => imageStats(readPng(f, bg))) };
}

/**
 * Statistics of the PNG files under `paths` (lib/stats.mjs setStats) and, for each reference path
 * (a directory or PNG, one reference set each), histogram distance and silhouette IoU against it.
 * @returns {{files: string[], stats: object[], set: object, refs: {ref: string, count: number, histDistance: number, maskIoU: number}[]}}
 * @throws {Error} naming the file when a path has no PNG, a PNG is unreadable, or sizes differ from the first input
 */
export function measure(paths, refPaths = [], bg = [255, 255, 255]) {
  const { files, stats } = statsOf(paths, bg);
  const set = setStats(stats);
  const refs = refPaths.map((r) => {
    const ref = statsOf([r], bg);
    const all = [...files, ...ref.files];
    const bad = [...stats, ...ref.stats].findIndex((s) => s.mask.length !== stats[0].mask.length);
    if (bad >= 0) throw new Error(`${all[bad]}: image size differs from ${files[0]}; --ref needs one image size`);
    const s = setStats(stats, ref.stats);
    return { ref: r, count: ref.files.length, histDistance: s.histDistance, maskIoU: s.maskIoU };
  });
  return { files, stats, set, refs };
}

const f4 = (x) => x.toFixed(4);

function main() {
  let a;
  try {
    a = parseArgs({ allowPositionals: true, options: {
      ref: { type: 'string', multiple: true, default: [] }, json: { type: 'boolean' },
      'per-image': { type: 'boolean' }, background: { type: 'string', default: 'ffffff' }, help: { type: 'boolean', short: 'h' } } });
  } catch (err) {
    console.error(`measure.mjs: ${err.message}\n${USAGE}`);
    process.exit(2);
  }
  if (a.values.help) { console.log(USAGE); return; }
  if (!a.positionals.length) { console.error(`measure.mjs: no input\n${USAGE}`); process.exit(2); }
  const { files, stats, set, refs } = measure(a.positionals, a.values.ref, parseHexColor(a.values.background, '--background'));
  if (a.values.json) {
    const j = { ...set, hist: Array.from(set.hist), refs };
    if (a.values['per-image']) {
      j.images = files.map((f, i) => {
        const { hist, mask, ...s } = stats[i];
        return { file: f, ...s };
      });
    }
    console.log(JSON.stringify(j, null, 1));
    return;
  }
  if (a.values['per-image']) {
    console.log('luminance saturation edge_density foreground line_art file');
    files.forEach((f, i) => {
      const s = stats[i];
      console.log(`${f4(s.luminance)} ${f4(s.saturation)} ${f4(s.edgeDensity)} ${f4(s.foreground)} ${f4(s.lineArt)} ${f}`);
    });
  }
  const row = (label, v, note) => console.log(`${label.padEnd(18)} ${f4(v.mean)}  (sd ${f4(v.sd)})  ${note}`);
  console.log(`${'images'.padEnd(18)} ${set.count}`);
  row('mean luminance', set.luminance, 'Rec.709 Y of sRGB-decoded (linear) RGB');
  row('mean saturation', set.saturation, 'HSV (max-min)/max of encoded RGB');
  row('edge density', set.edgeDensity, 'Sobel |g| > 0.5 on encoded luma');
  row('foreground', set.foreground, 'max|c - border median| > 32');
  row('line-art ratio', set.lineArt, 'foreground pixels with saturation < 0.2');
  console.log(`${'mean linear RGB'.padEnd(18)} ${set.meanLinear.map(f4).join(' ')}`);
  for (const r of refs) {
    console.log(`vs ${r.ref} (${r.count} images): hist distance ${f4(r.histDistance)} (total variation, pooled 4x4x4 foreground histograms), silhouette IoU ${f4(r.maskIoU)} (mean IoU with its majority mask)`);
  }
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (err) {
    console.error(`measure.mjs: ${err.message}`);
    process.exit(1);
  }
}
