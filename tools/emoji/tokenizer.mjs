#!/usr/bin/env node
// Trains a small CLIP-format byte-level BPE tokenizer on the captions of an emoji data folder (issue #9):
//   node tools/emoji/tokenizer.mjs --data DIR --out TOKDIR [--vocab-size N]
// Reads every DIR/<set>/<folder>/*.txt (build.mjs's kohya layout), writes TOKDIR/vocab.json, merges.txt,
// special_tokens_map.json, tokenizer_config.json. Format and rules: docs/emoji-data.md ("Tokenizer").
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bpeEncodeWord, mergeRanks, trainBpe } from './lib/bpe.mjs';
import { clipWords } from './lib/clip_text.mjs';
import { BYTE_TOKENS, mergesTxt, specialTokensMapJson, tokenizerConfigJson, vocabJson, vocabList } from './lib/tokenizer_files.mjs';

const USAGE = `usage: node tools/emoji/tokenizer.mjs --data DIR --out TOKDIR [--vocab-size N]
  --data DIR        caption folder written by build.mjs: every DIR/<set>/<folder>/*.txt is read
  --out TOKDIR      writes vocab.json, merges.txt, special_tokens_map.json, tokenizer_config.json
  --vocab-size N    cap on the vocabulary size, >= ${BYTE_TOKENS + 2} (512 byte tokens + 2 special tokens + merges);
                    default: merge until every corpus word is one token`;

const readDir = (p) => {
  try {
    return fs.readdirSync(p, { withFileTypes: true }).sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  } catch (err) {
    throw new Error(`${p}: cannot read folder (${err.code || err.message})`);
  }
};

/**
 * Caption files of a data folder: DIR/<set>/<folder>/*.txt, sorted by path.
 * @param {string} dir
 * @returns {string[]}
 * @throws {Error} naming the folder when it cannot be read or holds no caption
 */
export function captionFiles(dir) {
  const files = [];
  for (const set of readDir(dir).filter((e) => e.isDirectory())) {
    for (const folder of readDir(path.join(dir, set.name)).filter((e) => e.isDirectory())) {
      const sub = path.join(dir, set.name, folder.name);
      for (const f of readDir(sub)) if (f.isFile() && f.name.endsWith('.txt')) files.push(path.join(sub, f.name));
    }
  }
  if (!files.length) throw new Error(`${dir}: no captions (expected DIR/<set>/<folder>/*.txt, as build.mjs writes)`);
  return files;
}

/**
 * Word frequencies of the captions: each file read once (kohya repeats are not applied), split into words
 * exactly as the CLIP tokenizer does (lib/clip_text.mjs clipWords).
 * @param {string[]} files
 * @returns {Map<string, number>}
 * @throws {Error} naming the file when it cannot be read or is not valid UTF-8
 */
export function wordCounts(files) {
  const counts = new Map();
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  for (const f of files) {
    let text;
    try {
      text = utf8.decode(fs.readFileSync(f));
    } catch (err) {
      throw new Error(`${f}: cannot read caption (${err.code || err.message})`);
    }
    for (const w of clipWords(text)) counts.set(w, (counts.get(w) || 0) + 1);
  }
  return counts;
}

/**
 * Train on the captions under `data` and write the tokenizer folder `out` (created if missing; the four files
 * are overwritten). Same captions -> byte-identical files.
 * @param {{data: string, out: string, vocabSize?: number}} opt vocabSize: cap (>= 514), default none
 * @returns {{captions: number, words: number, occurrences: number, merges: [string, string][], vocabSize: number,
 *   split: number}} split: corpus words that are still more than one token (only with a vocabSize cap)
 * @throws {Error} naming the file or option on bad input
 */
export function buildTokenizer({ data, out, vocabSize }) {
  if (vocabSize !== undefined && !(Number.isInteger(vocabSize) && vocabSize >= BYTE_TOKENS + 2)) {
    throw new Error(`--vocab-size ${vocabSize}: must be an integer >= ${BYTE_TOKENS + 2}`);
  }
  const files = captionFiles(data);
  const counts = wordCounts(files);
  const maxTokens = vocabSize === undefined ? Infinity : vocabSize - BYTE_TOKENS - 2;
  const { merges, tokens, words } = trainBpe(counts, { maxTokens });
  // The loader encodes by merge rank; check it reproduces the training segmentation of every corpus word.
  const ranks = mergeRanks(merges);
  let split = 0;
  for (const [w, seg] of words) {
    if (bpeEncodeWord(w, ranks).join(' ') !== seg.join(' ')) throw new Error(`word '${w}': rank-order BPE differs from training (internal error)`);
    if (seg.length > 1) split++;
  }
  const vocab = vocabList(tokens);
  try {
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, 'vocab.json'), vocabJson(vocab));
    fs.writeFileSync(path.join(out, 'merges.txt'), mergesTxt(merges));
    fs.writeFileSync(path.join(out, 'special_tokens_map.json'), specialTokensMapJson());
    fs.writeFileSync(path.join(out, 'tokenizer_config.json'), tokenizerConfigJson());
  } catch (err) {
    throw new Error(`${out}: cannot write the tokenizer files (${err.code || err.message})`);
  }
  const occurrences = [...counts.values()].reduce((s, c) => s + c, 0);
  return { captions: files.length, words: counts.size, occurrences, merges, vocabSize: vocab.length, split };
}

function main() {
  let a;
  try {
    a = parseArgs({ options: { data: { type: 'string' }, out: { type: 'string' }, 'vocab-size': { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  } catch (err) {
    console.error(`tokenizer.mjs: ${err.message}\n${USAGE}`);
    process.exit(2);
  }
  if (a.values.help) { console.log(USAGE); return; }
  if (!a.values.data || !a.values.out) { console.error(`tokenizer.mjs: --data and --out are required\n${USAGE}`); process.exit(2); }
  const vs = a.values['vocab-size'];
  if (vs !== undefined && !/^[0-9]+$/.test(vs)) { console.error(`tokenizer.mjs: --vocab-size ${vs}: not a whole number\n${USAGE}`); process.exit(2); }
  const r = buildTokenizer({ data: a.values.data, out: a.values.out, vocabSize: vs === undefined ? undefined : Number(vs) });
  const rest = r.split ? `; ${r.split} words still split (--vocab-size cap)` : '; every word is one token';
  console.log(`tokenizer: ${r.captions} captions, ${r.words} distinct words (${r.occurrences} in all), ${r.merges.length} merges, ` +
    `vocab size ${r.vocabSize} (bos ${r.vocabSize - 2}, eos ${r.vocabSize - 1})${rest} -> ${a.values.out}`);
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (err) {
    console.error(`tokenizer.mjs: ${err.message}`);
    process.exit(1);
  }
}
