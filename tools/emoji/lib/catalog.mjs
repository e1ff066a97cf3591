// The emoji catalogue: which emoji exist, their names, categories and image files in the three
// npm packages, and the subject selections for each data set (rules in docs/emoji-data.md).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** tools/emoji/node_modules, where `npm ci --prefix tools/emoji` installs the packages. */
export const NODE_MODULES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'node_modules');

export const PACKAGES = Object.freeze(['emoji-datasource-twitter', 'emoji-datasource-google', 'openmoji']);

function readJson(file) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${file}: cannot read (${err.code || err.message}); run: npm ci --prefix tools/emoji`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${err.message})`);
  }
}

/**
 * Caption text from a CLDR short name: Unicode NFKD with combining marks dropped (piñata -> pinata),
 * typographic quotes folded (’ -> '), lower case, the characters , : ( ) " [ ] replaced by spaces
 * (commas separate caption tags in kohya captions; brackets are A1111 attention syntax), spaces collapsed.
 * @param {string} name e.g. "Japanese “here” button", "family: man, girl"
 * @returns {string} e.g. "japanese here button", "family man girl"
 */
export function captionFromName(name) {
  return name
    .normalize('NFKD').replace(/[\u0300-\u036f]/g, '')
    .replace(/[\u2018\u2019]/g, "'").replace(/[\u201c\u201d]/g, '"')
    .toLowerCase()
    .replace(/[,:()"[\]]/g, ' ')
    .replace(/\s+/g, ' ').trim();
}

/**
 * One emoji as the builder uses it.
 * @typedef {object} Emoji
 * @property {string} unified      code points, upper-case hex joined by '-' (emoji-datasource "unified")
 * @property {string} stem         output file stem: the emoji-datasource image name without ".png" (lower case)
 * @property {string} unicodeName  Unicode character name, lower case (emoji-datasource "name")
 * @property {string} cldrName     CLDR short name (openmoji "annotation"), as published
 * @property {string} caption      captionFromName(cldrName)
 * @property {string} category     emoji-datasource category, e.g. "Smileys & Emotion"
 * @property {string} subcategory  e.g. "face-smiling", "cat-face"
 * @property {number} sortOrder    emoji-datasource sort_order (CLDR order)
 * @property {string} twitterPng   path of the 64x64 Twemoji PNG
 * @property {string} googlePng    path of the 64x64 Noto PNG
 * @property {string} openmojiHex  OpenMoji hexcode (SVG file stem in color/svg and black/svg)
 */

/**
 * Loads emoji.json from emoji-datasource-twitter and -google and openmoji's data/openmoji.json, joined on
 * the code point sequence (OpenMoji omits some U+FE0F variation selectors; the join tries both forms).
 * Entries are sorted by sortOrder, then unified.
 * @param {string} [root] node_modules folder holding the three packages
 * @returns {{emoji: Emoji[], versions: Record<string, string>}}
 * @throws {Error} naming the file when a package is missing or an emoji lacks an image or a name
 */
export function loadCatalog(root = NODE_MODULES) {
  const versions = {};
  for (const p of PACKAGES) versions[p] = readJson(path.join(root, p, 'package.json')).version;
  const twitterJson = path.join(root, 'emoji-datasource-twitter', 'emoji.json');
  const twitter = readJson(twitterJson);
  const google = new Map(readJson(path.join(root, 'emoji-datasource-google', 'emoji.json')).map((e) => [e.unified, e]));
  const omFile = path.join(root, 'openmoji', 'data', 'openmoji.json');
  const openmoji = new Map(readJson(omFile).map((e) => [e.hexcode, e]));
  const emoji = [];
  for (const e of twitter) {
    const g = google.get(e.unified);
    const om = openmoji.get(e.unified) || openmoji.get(e.unified.replace(/-FE0F/g, ''));
    if (!e.has_img_twitter || !g || !g.has_img_google) continue; // no image in one of the two PNG designs
    if (!om) throw new Error(`${omFile}: no entry for ${e.unified} (${e.name}); cannot name it`);
    emoji.push({
      unified: e.unified,
      stem: e.image.replace(/\.png$/, ''),
      unicodeName: String(e.name).toLowerCase(),
      cldrName: om.annotation,
      caption: captionFromName(om.annotation),
      category: e.category,
      subcategory: e.subcategory,
      sortOrder: e.sort_order,
      twitterPng: path.join(root, 'emoji-datasource-twitter', 'img', 'twitter', '64', e.image),
      googlePng: path.join(root, 'emoji-datasource-google', 'img', 'google', '64', g.image),
      openmojiHex: om.hexcode,
    });
  }
  emoji.sort((a, b) => a.sortOrder - b.sortOrder || (a.unified < b.unified ? -1 : a.unified > b.unified ? 1 : 0));
  return { emoji, versions };
}

/** Categories left out of the base subjects by default: country/subdivision flags and skin-tone swatches. */
export const SKIPPED_CATEGORIES = Object.freeze(['Flags', 'Component']);

/**
 * Base subjects: every emoji except SKIPPED_CATEGORIES (flags kept when withFlags) and, unless
 * withCharacter, the character subjects (catFaces), so the base model does not already draw the character
 * the character LoRA teaches. Skin-tone variants are not separate entries in emoji.json (they sit under
 * skin_variations), so only the default yellow form of each person / hand emoji is used.
 * @param {Emoji[]} emoji sorted catalogue
 * @param {{withFlags?: boolean, withCharacter?: boolean}} [opt]
 * @returns {Emoji[]}
 */
export function baseSubjects(emoji, opt = {}) {
  return emoji.filter((e) => e.category !== 'Component' && (opt.withFlags || e.category !== 'Flags')
    && (opt.withCharacter || !isCatFace(e)));
}

/** True for the character subjects: emoji-datasource subcategory "cat-face" (U+1F638..U+1F640). */
export function isCatFace(e) {
  return e.subcategory === 'cat-face';
}

/**
 * Character subjects, the cat-face family: the nine expressive cats of subcategory "cat-face"
 * (U+1F638..U+1F640), one character drawn in nine expressions. Left out: U+1F431 "cat face" (an animal
 * head in another drawing style, with stripes) and the whole-body cats U+1F408 "cat" / "black cat".
 * expression = the caption with the word "cat" and a leading "with" removed
 * ("cat with tears of joy" -> "tears of joy", "grinning cat" -> "grinning").
 * @param {Emoji[]} emoji sorted catalogue
 * @returns {(Emoji & {expression: string})[]}
 */
export function catFaces(emoji) {
  return emoji.filter(isCatFace).map((e) => {
    const words = e.caption.split(' ').filter((w) => w !== 'cat');
    if (words[0] === 'with') words.shift();
    return { ...e, expression: words.join(' ') };
  });
}
