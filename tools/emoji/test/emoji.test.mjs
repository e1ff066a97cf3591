// Tests of the emoji data builder and the measurement tool (run: node --test tools/emoji/test/).
// Needs `npm ci --prefix tools/emoji` and rsvg-convert (Debian librsvg2-bin).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { metadataFor } from '../lib/attribution.mjs';
import { baseSubjects, captionFromName, catFaces, loadCatalog } from '../lib/catalog.mjs';
import { DECODE, encode8, srgbEncode } from '../lib/color.mjs';
import { readPng } from '../lib/image.mjs';
import { NIGHT_DEFAULTS, night } from '../lib/night.mjs';
import { histDistance, imageStats, maskIoU, normalize, setStats } from '../lib/stats.mjs';
import { measure } from '../measure.mjs';

const TOOL = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const node = (args) => spawnSync(process.execPath, args, { encoding: 'utf8' });

/** w x h image filled by f(x, y) -> [r, g, b]. */
function image(w, h, f) {
  const rgb = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgb.set(f(x, y), 3 * (y * w + x));
  return { width: w, height: h, rgb };
}

describe('captions and colour maths', () => {
  test('captionFromName folds CLDR names into tag-safe lower-case ASCII', () => {
    assert.equal(captionFromName('grinning face'), 'grinning face');
    assert.equal(captionFromName('Japanese “here” button'), 'japanese here button');
    assert.equal(captionFromName('family: man, girl, boy'), 'family man girl boy');
    assert.equal(captionFromName('A button (blood type)'), 'a button blood type');
    assert.equal(captionFromName('piñata'), 'pinata');
    assert.equal(captionFromName('woman’s hat'), "woman's hat");
  });

  test('encode8 inverts the sRGB decode table and rounds like round(255 * encode(v))', () => {
    for (let b = 0; b < 256; b++) assert.equal(encode8(DECODE[b]), b);
    for (const v of [0, 1e-4, 0.002, 0.01, 0.18, 0.5, 0.73, 0.999, 1]) assert.equal(encode8(v), Math.round(255 * srgbEncode(v)));
  });

  test('the night transform scales linear luminance by k and turns white blue-grey', () => {
    const white = night(image(2, 2, () => [255, 255, 255]));
    const s = imageStats(white);
    assert.ok(Math.abs(s.luminance - NIGHT_DEFAULTS.luminance) < 0.002, `${s.luminance}`);
    assert.ok(s.meanLinear[2] > s.meanLinear[1] && s.meanLinear[1] > s.meanLinear[0], 'blue > green > red');
    assert.throws(() => night(white, { ...NIGHT_DEFAULTS, luminance: 0 }), /--night-luminance/);
  });
});

describe('subjects of the pinned packages (counts stated in docs/emoji-data.md)', () => {
  test('1911 emoji; base 1627 = minus 270 flags, 5 skin-tone swatches, 9 cat faces; character 9', () => {
    const { emoji, versions } = loadCatalog();
    assert.deepEqual(versions, { 'emoji-datasource-twitter': '16.0.0', 'emoji-datasource-google': '16.0.0', openmoji: '17.0.0' });
    assert.equal(emoji.length, 1911);
    const base = baseSubjects(emoji);
    assert.equal(base.length, 1627);
    assert.equal(baseSubjects(emoji, { withFlags: true, withCharacter: true }).length, 1906);
    assert.equal(new Set(base.map((e) => e.caption)).size, base.length, 'captions are unique');
    assert.deepEqual(catFaces(emoji).map((e) => e.expression), ['grinning', 'grinning with smiling eyes', 'tears of joy',
      'smiling with heart-eyes', 'wry smile', 'kissing', 'weary', 'crying', 'pouting']);
  });
});

describe('measurements', () => {
  test('white, red and a vertical edge', () => {
    const white = imageStats(image(8, 8, () => [255, 255, 255]));
    assert.deepEqual([white.luminance, white.saturation, white.edgeDensity, white.foreground], [1, 0, 0, 0]);
    // red disc on white: red pixels are foreground, fully saturated, luminance 0.2126
    const red = imageStats(image(8, 8, (x, y) => (x > 1 && x < 6 && y > 1 && y < 6 ? [255, 0, 0] : [255, 255, 255])));
    assert.equal(red.foreground, 16 / 64);
    assert.ok(Math.abs(red.luminance - (48 + 16 * 0.2126) / 64) < 1e-12);
    assert.equal(red.saturation, 16 / 64);
    assert.equal(red.lineArt, 0);
    // black left half, white right half: Sobel |g| = 4 on the two columns either side of the edge
    const edge = imageStats(image(8, 8, (x) => (x < 4 ? [0, 0, 0] : [255, 255, 255])));
    assert.equal(edge.edgeDensity, 12 / 36);
  });

  test('histogram distance and silhouette IoU', () => {
    assert.equal(histDistance(normalize([1, 1, 0]), normalize([2, 2, 0])), 0);
    assert.equal(histDistance(normalize([1, 0]), normalize([0, 3])), 1);
    assert.equal(maskIoU([1, 1, 0, 0], [0, 1, 1, 0]), 1 / 3);
    const a = imageStats(image(8, 8, (x) => (x < 4 ? [0, 0, 0] : [255, 255, 255])));
    const s = setStats([a], [a]);
    assert.equal(s.histDistance, 0);
    assert.equal(s.maskIoU, 1);
  });
});

describe('build.mjs --limit 8 (all sets)', () => {
  let out;
  const LIMIT = 8;
  before(() => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'ls-emoji-'));
    const r = node([path.join(TOOL, 'build.mjs'), '--out', out, '--limit', String(LIMIT)]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /base: 8 images/);
  });
  after(() => fs.rmSync(out, { recursive: true, force: true }));

  const folders = { base: '1_twemoji', style: '1_omlineart', character: '10_lscat', lighting: '1_night' };
  const stems = (set) => fs.readdirSync(path.join(out, set, folders[set])).filter((f) => f.endsWith('.png')).map((f) => f.slice(0, -4));
  const caption = (set, stem) => fs.readFileSync(path.join(out, set, folders[set], `${stem}.txt`), 'utf8');

  test('kohya layout: one N_concept folder per set, PNG + same-stem caption pairs, 64x64 8-bit RGB', () => {
    assert.deepEqual(fs.readdirSync(out).sort(), ['ATTRIBUTION.md', 'base', 'base.manifest.json', 'character',
      'character.manifest.json', 'lighting', 'lighting.manifest.json', 'style', 'style.manifest.json']);
    for (const set of Object.keys(folders)) {
      assert.deepEqual(fs.readdirSync(path.join(out, set)), [folders[set]]);
      const files = fs.readdirSync(path.join(out, set, folders[set])).sort();
      const pngs = files.filter((f) => f.endsWith('.png'));
      assert.equal(pngs.length, LIMIT, set);
      assert.deepEqual(files, pngs.flatMap((p) => [p, p.replace(/png$/, 'txt')]).sort(), set);
      for (const p of pngs) {
        const b = fs.readFileSync(path.join(out, set, folders[set], p));
        // IHDR: width, height (big-endian u32 at 16, 20), bit depth (24) 8, colour type (25) 2 = RGB
        assert.deepEqual([b.readUInt32BE(16), b.readUInt32BE(20), b[24], b[25]], [64, 64, 8, 2], `${set}/${p}`);
      }
      const m = JSON.parse(fs.readFileSync(path.join(out, `${set}.manifest.json`), 'utf8'));
      assert.equal(m.count, LIMIT);
      assert.deepEqual(m.metadata, metadataFor(set));
    }
  });

  test('captions: CLDR names, trigger words first, character expressions', () => {
    const base = stems('base');
    assert.deepEqual(base.slice(0, 3), ['1f600', '1f601', '1f602']);
    assert.equal(caption('base', '1f600'), 'grinning face');
    assert.equal(caption('base', '1f602'), 'face with tears of joy');
    for (const s of base) {
      assert.match(caption('base', s), /^[a-z0-9 '!#*.-]+$/);
      assert.equal(caption('style', s), `omlineart, ${caption('base', s)}`);
      assert.equal(caption('lighting', s), `at night, ${caption('base', s)}`);
    }
    assert.deepEqual(stems('style'), base);
    assert.deepEqual(stems('lighting'), base);
    const cats = catFaces(loadCatalog().emoji).slice(0, LIMIT);
    assert.deepEqual(stems('character').sort(), cats.map((e) => e.stem).sort());
    assert.equal(caption('character', '1f639'), 'lscat cat, tears of joy');
    assert.equal(caption('character', '1f63a'), 'lscat cat, grinning');
  });

  test('lighting lowers mean linear luminance by the stated factor 0.25 (± 0.003 per image)', () => {
    const k = NIGHT_DEFAULTS.luminance;
    const b = measure([path.join(out, 'base')]);
    const l = measure([path.join(out, 'lighting')]);
    assert.deepEqual(b.files.map((f) => path.basename(f)), l.files.map((f) => path.basename(f)));
    b.stats.forEach((s, i) => assert.ok(Math.abs(l.stats[i].luminance / s.luminance - k) < 0.003, b.files[i]));
    assert.ok(Math.abs(l.set.luminance.mean / b.set.luminance.mean - k) < 0.002);
    assert.ok(l.set.meanLinear[2] > l.set.meanLinear[0], 'blue shift');
  });

  test('style set is line art: no saturation, nearly all foreground achromatic', () => {
    const s = measure([path.join(out, 'style')]).set;
    assert.ok(s.saturation.mean < 0.01 && s.lineArt.mean > 0.95, JSON.stringify(s.lineArt));
  });

  test('output is byte-stable: a second build gives identical files', () => {
    const again = fs.mkdtempSync(path.join(os.tmpdir(), 'ls-emoji-'));
    try {
      const r = node([path.join(TOOL, 'build.mjs'), '--out', again, '--limit', String(LIMIT)]);
      assert.equal(r.status, 0, r.stderr);
      for (const set of Object.keys(folders)) {
        for (const f of fs.readdirSync(path.join(out, set, folders[set]))) {
          assert.ok(fs.readFileSync(path.join(out, set, folders[set], f)).equals(fs.readFileSync(path.join(again, set, folders[set], f))), `${set}/${f}`);
        }
        assert.equal(fs.readFileSync(path.join(out, `${set}.manifest.json`), 'utf8'), fs.readFileSync(path.join(again, `${set}.manifest.json`), 'utf8'));
      }
    } finally {
      fs.rmSync(again, { recursive: true, force: true });
    }
  });

  test('measure.mjs --json prints the set statistics and reference distances', () => {
    const r = node([path.join(TOOL, 'measure.mjs'), path.join(out, 'character'), '--ref', path.join(out, 'character'), '--json']);
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.count, LIMIT);
    assert.equal(j.hist.length, 64);
    assert.equal(j.refs[0].histDistance, 0);
  });
});

describe('errors and attribution', () => {
  test('bad options and foreign output folders give one-line errors', () => {
    let r = node([path.join(TOOL, 'build.mjs'), '--out', os.tmpdir(), '--set', 'bogus']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--set: expected base, style, character, lighting or all, got "bogus"/);
    r = node([path.join(TOOL, 'build.mjs'), '--out', os.tmpdir(), '--night-tint', '1,x,1']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--night-tint: expected a number, got "x"/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ls-emoji-'));
    try {
      fs.mkdirSync(path.join(dir, 'base'));
      r = node([path.join(TOOL, 'build.mjs'), '--out', dir, '--set', 'base', '--limit', '1']);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /base: exists and was not written by build.mjs/);
      r = node([path.join(TOOL, 'measure.mjs'), dir]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /no PNG files/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('ATTRIBUTION.md shows the metadata lib/attribution.mjs produces', () => {
    const md = fs.readFileSync(path.join(TOOL, 'ATTRIBUTION.md'), 'utf8');
    const block = /```json\n([\s\S]*?)```/.exec(md);
    assert.ok(block, 'json block');
    const want = Object.fromEntries(['base', 'style', 'character', 'lighting'].map((s) => [s, metadataFor(s)]));
    assert.deepEqual(JSON.parse(block[1]), want);
  });
});
