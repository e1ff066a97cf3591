#!/usr/bin/env node
// Builds kohya-style caption folders of 64x64 RGB emoji for lorastack's embedded default (issue #9).
//   node tools/emoji/build.mjs --out DIR [--set base|style|character|lighting|all] [--limit N] ...
// Layout: DIR/<set>/<repeats>_<concept>/<stem>.png + <stem>.txt, DIR/<set>.manifest.json,
// DIR/ATTRIBUTION.md. Sets, rules and formulas: docs/emoji-data.md.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { metadataFor } from './lib/attribution.mjs';
import { baseSubjects, catFaces, isCatFace, loadCatalog, NODE_MODULES, SKIPPED_CATEGORIES } from './lib/catalog.mjs';
import { encodePng, parseHexColor, readPng } from './lib/image.mjs';
import { NIGHT_DEFAULTS, night, validateNight } from './lib/night.mjs';
import { renderSvg, rsvgVersion } from './lib/rasterize.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SIZE = 64;
const SETS = ['base', 'style', 'character', 'lighting'];
/** Image designs: where a subject's picture comes from. */
const DESIGNS = {
  twemoji: { png: (e) => e.twitterPng },
  noto: { png: (e) => e.googlePng },
  'openmoji-line': { svg: (e) => path.join(NODE_MODULES, 'openmoji', 'black', 'svg', `${e.openmojiHex}.svg`) },
  'openmoji-color': { svg: (e) => path.join(NODE_MODULES, 'openmoji', 'color', 'svg', `${e.openmojiHex}.svg`) },
};
const STYLE_TRIGGER = { noto: 'notostyle', 'openmoji-line': 'omlineart', 'openmoji-color': 'omstyle' };

const USAGE = `usage: node tools/emoji/build.mjs --out DIR [options]
  --set S               base | style | character | lighting | all (default all)
  --limit N             first N subjects of each set in CLDR order (default: all)
  --with-flags          keep the Flags category in base/style/lighting (default: skipped)
  --with-character      keep the nine cat faces in base/style/lighting (default: only in character)
  --category-tag        append the category as a second caption tag ("grinning face, smileys and emotion")
  --background RRGGBB   colour transparency is composited onto (default ffffff)
  --style-source D      openmoji-line | noto | openmoji-color (default openmoji-line)
  --style-trigger W     style trigger word (default per source: omlineart | notostyle | omstyle; "" for none)
  --character-source D  twemoji | noto | openmoji-color (default twemoji)
  --character-trigger W character trigger word (default lscat)
  --night-trigger W     lighting trigger (default "at night"; "" for none)
  --night-luminance K   luminance factor in linear light (default ${NIGHT_DEFAULTS.luminance})
  --night-desaturate M  mix toward tinted grey (default ${NIGHT_DEFAULTS.desaturate})
  --night-tint R,G,B    night tint before normalisation (default ${NIGHT_DEFAULTS.tint.join(',')})
  --repeats SET=N       kohya repeat count (default base=1 style=1 character=10 lighting=1), repeatable
  --jobs N              parallel rsvg-convert processes (default 2)`;

function fail(msg) {
  console.error(`build.mjs: ${msg}`);
  process.exit(2);
}

function options() {
  let a;
  try {
    a = parseArgs({
      options: {
        out: { type: 'string' }, set: { type: 'string', default: 'all' }, limit: { type: 'string' },
        'with-flags': { type: 'boolean' }, 'with-character': { type: 'boolean' }, 'category-tag': { type: 'boolean' },
        background: { type: 'string', default: 'ffffff' },
        'style-source': { type: 'string', default: 'openmoji-line' }, 'style-trigger': { type: 'string' },
        'character-source': { type: 'string', default: 'twemoji' }, 'character-trigger': { type: 'string', default: 'lscat' },
        'night-trigger': { type: 'string', default: 'at night' },
        'night-luminance': { type: 'string', default: String(NIGHT_DEFAULTS.luminance) },
        'night-desaturate': { type: 'string', default: String(NIGHT_DEFAULTS.desaturate) },
        'night-tint': { type: 'string', default: NIGHT_DEFAULTS.tint.join(',') },
        repeats: { type: 'string', multiple: true, default: [] },
        jobs: { type: 'string', default: '2' }, help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    fail(`${err.message}\n${USAGE}`);
  }
  if (a.help) { console.log(USAGE); process.exit(0); }
  if (!a.out) fail(`--out is required\n${USAGE}`);
  const sets = a.set === 'all' ? SETS : [a.set];
  if (!SETS.includes(sets[0])) fail(`--set: expected base, style, character, lighting or all, got "${a.set}"`);
  const int = (name, v, min) => {
    if (!/^\d+$/.test(v) || Number(v) < min) fail(`--${name}: expected an integer >= ${min}, got "${v}"`);
    return Number(v);
  };
  const num = (name, v) => {
    const x = Number(v);
    if (v === '' || !Number.isFinite(x)) fail(`--${name}: expected a number, got "${v}"`);
    return x;
  };
  if (!['noto', 'openmoji-line', 'openmoji-color'].includes(a['style-source'])) fail(`--style-source: expected noto, openmoji-line or openmoji-color, got "${a['style-source']}"`);
  if (!['twemoji', 'noto', 'openmoji-color'].includes(a['character-source'])) fail(`--character-source: expected twemoji, noto or openmoji-color, got "${a['character-source']}"`);
  const repeats = { base: 1, style: 1, character: 10, lighting: 1 };
  for (const r of a.repeats) {
    const m = /^(base|style|character|lighting)=(\d+)$/.exec(r);
    if (!m || Number(m[2]) < 1) fail(`--repeats: expected SET=N with N >= 1, got "${r}"`);
    repeats[m[1]] = Number(m[2]);
  }
  let background;
  try { background = parseHexColor(a.background, '--background'); } catch (err) { fail(err.message); }
  const tint = a['night-tint'].split(',').map((v) => num('night-tint', v));
  const nightParams = { luminance: num('night-luminance', a['night-luminance']), desaturate: num('night-desaturate', a['night-desaturate']), tint };
  try { validateNight(nightParams); } catch (err) { fail(err.message); }
  return {
    out: a.out, sets, limit: a.limit === undefined ? Infinity : int('limit', a.limit, 1),
    withFlags: !!a['with-flags'], withCharacter: !!a['with-character'], categoryTag: !!a['category-tag'], background,
    styleSource: a['style-source'], styleTrigger: a['style-trigger'] ?? STYLE_TRIGGER[a['style-source']],
    characterSource: a['character-source'], characterTrigger: a['character-trigger'], nightTrigger: a['night-trigger'],
    night: nightParams,
    repeats, jobs: int('jobs', a.jobs, 1),
  };
}

/** "trigger, rest" or just rest when the trigger is empty. */
const tagged = (trigger, rest) => (trigger ? `${trigger}, ${rest}` : rest);

/** Subject caption: CLDR-derived name, optionally with the category as a second tag. */
function subjectCaption(e, opt) {
  return opt.categoryTag ? `${e.caption}, ${e.category.toLowerCase().replace(/&/g, 'and')}` : e.caption;
}

/** Loads one subject's picture in a design, composited onto the background. */
function picture(design, e, opt) {
  const d = DESIGNS[design];
  return d.png ? Promise.resolve(readPng(d.png(e), opt.background)) : renderSvg(d.svg(e), SIZE, opt.background);
}

/** The subjects, captions, concept folder name and image loader of one set. */
function plan(set, emoji, opt) {
  const subjects = baseSubjects(emoji, { withFlags: opt.withFlags, withCharacter: opt.withCharacter }).slice(0, opt.limit);
  switch (set) {
    case 'base':
      return { concept: 'twemoji', design: 'twemoji', trigger: '',
        items: subjects.map((e) => ({ e, caption: subjectCaption(e, opt), load: () => picture('twemoji', e, opt) })) };
    case 'style':
      return { concept: opt.styleTrigger || opt.styleSource, design: opt.styleSource, trigger: opt.styleTrigger,
        items: subjects.map((e) => ({ e, caption: tagged(opt.styleTrigger, subjectCaption(e, opt)), load: () => picture(opt.styleSource, e, opt) })) };
    case 'character':
      return { concept: opt.characterTrigger || 'cat', design: opt.characterSource, trigger: opt.characterTrigger,
        items: catFaces(emoji).slice(0, opt.limit).map((e) => ({
          e, caption: `${opt.characterTrigger ? `${opt.characterTrigger} ` : ''}cat, ${e.expression}`,
          load: () => picture(opt.characterSource, e, opt),
        })) };
    case 'lighting':
      return { concept: 'night', design: 'twemoji', trigger: opt.nightTrigger,
        items: subjects.map((e) => ({ e, caption: tagged(opt.nightTrigger, subjectCaption(e, opt)),
          load: async () => night(await picture('twemoji', e, opt), opt.night) })) };
    default:
      throw new Error(`unknown set ${set}`);
  }
}

/** Runs the loaders with at most `jobs` in flight; results keep the input order. */
async function loadAll(items, jobs) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await items[i].load();
      if (out[i].width !== SIZE || out[i].height !== SIZE) {
        throw new Error(`${items[i].e.stem}: image is ${out[i].width}x${out[i].height}, expected ${SIZE}x${SIZE}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, items.length) }, worker));
  return out;
}

/** Removes OUT/<set> when an earlier run of this script made it (its manifest exists); refuses otherwise. */
function prepareSetDir(out, set) {
  const dir = path.join(out, set);
  if (fs.existsSync(dir)) {
    if (!fs.existsSync(path.join(out, `${set}.manifest.json`))) {
      throw new Error(`${dir}: exists and was not written by build.mjs (no ${set}.manifest.json); remove it or pick another --out`);
    }
    fs.rmSync(dir, { recursive: true });
  }
  return dir;
}

async function buildSet(set, catalog, opt, tools) {
  const p = plan(set, catalog.emoji, opt);
  const folder = `${opt.repeats[set]}_${p.concept.toLowerCase().replace(/[^a-z0-9-]+/g, '-')}`;
  const dir = path.join(prepareSetDir(opt.out, set), folder);
  fs.mkdirSync(dir, { recursive: true });
  const images = await loadAll(p.items, opt.jobs);
  const hash = crypto.createHash('sha256');
  const items = [];
  p.items.forEach((it, i) => {
    fs.writeFileSync(path.join(dir, `${it.e.stem}.png`), encodePng(images[i]));
    fs.writeFileSync(path.join(dir, `${it.e.stem}.txt`), it.caption);
    hash.update(it.caption).update('\0').update(images[i].rgb);
    items.push({ image: `${folder}/${it.e.stem}.png`, caption: it.caption, unified: it.e.unified, name: it.e.cldrName, category: it.e.category });
  });
  const manifest = {
    set, folder: `${set}/${folder}`, repeats: opt.repeats[set], concept: p.concept, trigger: p.trigger, design: p.design,
    count: items.length, size: SIZE, background: opt.background,
    ...(set === 'lighting' ? { night: opt.night } : {}),
    packages: catalog.versions, ...(p.design.startsWith('openmoji') ? { rasteriser: tools.rsvg } : {}),
    metadata: metadataFor(set, { styleSource: opt.styleSource, night: opt.night, background: opt.background }),
    content_sha256: hash.digest('hex'), // over caption + NUL + raw RGB bytes of every item, in order
    items,
  };
  fs.writeFileSync(path.join(opt.out, `${set}.manifest.json`), `${JSON.stringify(manifest, null, 1)}\n`);
  return manifest;
}

async function main() {
  const opt = options();
  const catalog = loadCatalog();
  const tools = {};
  const needSvg = opt.sets.some((s) => (s === 'style' && opt.styleSource.startsWith('openmoji')) || (s === 'character' && opt.characterSource.startsWith('openmoji')));
  if (needSvg) tools.rsvg = await rsvgVersion();
  fs.mkdirSync(opt.out, { recursive: true });
  fs.copyFileSync(path.join(HERE, 'ATTRIBUTION.md'), path.join(opt.out, 'ATTRIBUTION.md'));
  const count = (f) => catalog.emoji.filter(f).length;
  const skipped = [
    ...SKIPPED_CATEGORIES.filter((c) => !(opt.withFlags && c === 'Flags')).map((c) => `${count((e) => e.category === c)} ${c}`),
    ...(opt.withCharacter ? [] : [`${count(isCatFace)} cat faces (character set)`]),
  ];
  console.log(`catalogue: ${catalog.emoji.length} emoji with Twemoji and Noto images; left out of base/style/lighting: ${skipped.join(', ')}`);
  for (const set of opt.sets) {
    const m = await buildSet(set, catalog, opt, tools);
    console.log(`${set}: ${m.count} images (${m.design}, trigger "${m.trigger}") -> ${path.join(opt.out, m.folder)}  sha256 ${m.content_sha256.slice(0, 16)}`);
  }
}

main().catch((err) => {
  console.error(`build.mjs: ${err.message}`);
  process.exit(1);
});
