// Tests of the CLIP-format BPE tokenizer trainer (run: node --test tools/emoji/test/tokenizer.test.mjs).
// Needs no npm packages. The C++ side (lorastack's loader reading the result) is tests/text/test_emoji_tokenizer.cpp.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { bpeEncodeWord, mergeRanks, trainBpe } from '../lib/bpe.mjs';
import { BYTE_ORDER, BYTE_SYMBOL, clipNormalize, clipWords, wordSymbols } from '../lib/clip_text.mjs';
import { buildTokenizer } from '../tokenizer.mjs';

const TOOL = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const node = (args) => spawnSync(process.execPath, args, { encoding: 'utf8' });
const FILES = ['vocab.json', 'merges.txt', 'special_tokens_map.json', 'tokenizer_config.json'];

/** Writes {relative path: caption} under a fresh temporary folder and returns it. */
function captionDir(files) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ls-emoji-tok-'));
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

// Sennrich et al. (2016)'s example corpus spread over the four sets: low 5, lower 2, newest 6, widest 3
// (character's kohya repeats 10 must not count), plus two commas. Case, tabs and double spaces are normalised away.
const CORPUS = {
  'base/1_twemoji/a.txt': 'low newest', 'base/1_twemoji/b.txt': 'low newest', 'base/1_twemoji/c.txt': 'low newest',
  'style/1_omlineart/a.txt': 'Low, Newest', 'style/1_omlineart/b.txt': 'LOW,  newest',
  'character/10_lscat/a.txt': 'lower widest', 'character/10_lscat/b.txt': 'lower widest',
  'lighting/1_night/a.txt': 'newest\twidest',
  'base.manifest.json': '{}', 'base/1_twemoji/a.png': 'not a caption',
};
// Worked by hand (pair counts weighted by word frequency; ties: smaller left token, then smaller right token):
// e s 9 (ties with s t</w> 9: "e" < "s"), es t</w> 9, l o 7, e w 6 (ties n e, w est</w>), ew est</w> 6 (ties n ew),
// n ewest</w> 6, lo w</w> 5, d est</w> 3 (ties i d, w i), i dest</w> 3, w idest</w> 3, e r</w> 2 (ties lo w, w e),
// lo w 2, low er</w> 2.
const EXPECTED_MERGES = ['e s', 'es t</w>', 'l o', 'e w', 'ew est</w>', 'n ewest</w>', 'lo w</w>', 'd est</w>',
  'i dest</w>', 'w idest</w>', 'e r</w>', 'lo w', 'low er</w>'];

describe('CLIP text front end', () => {
  test('byte alphabet in bytes_to_unicode order', () => {
    assert.equal(BYTE_ORDER.length, 256);
    assert.equal(new Set(BYTE_ORDER).size, 256);
    assert.deepEqual([BYTE_ORDER[0], BYTE_ORDER[93], BYTE_ORDER[94], BYTE_ORDER[187], BYTE_ORDER[188], BYTE_ORDER[255]], [0x21, 0x7e, 0xa1, 0xff, 0x00, 0xad]);
    assert.equal(BYTE_SYMBOL[0x61], 'a');
    assert.equal(BYTE_SYMBOL[0x20], 'Ġ'); // U+0120: the 33rd remapped byte
    assert.equal(BYTE_SYMBOL[0x00], 'Ā');
    assert.equal(BYTE_SYMBOL[0xad], 'Ń');
  });

  test('words are split the way the CLIP pre-tokenizer splits them', () => {
    assert.deepEqual(clipWords('lscat cat, Tears of  joy'), ['lscat', 'cat', ',', 'tears', 'of', 'joy']);
    assert.deepEqual(clipWords('smiling with heart-eyes'), ['smiling', 'with', 'heart', '-', 'eyes']);
    assert.deepEqual(clipWords("woman's hat 1f600"), ['woman', "'s", 'hat', '1', 'f', '6', '0', '0']);
    assert.deepEqual(clipWords('<|startoftext|>A\u00a0b!!<|endoftext|>'), ['a', 'b', '!!']);
    assert.deepEqual(clipWords('<|STARTOFTEXT|>'), ['<|', 'startoftext', '|>']); // not the special token: ByteLevel split
    assert.equal(clipNormalize('Cafe\u0301 \t ΣΑ'), 'café σα');
    assert.deepEqual(wordSymbols('cat'), ['c', 'a', 't</w>']);
    assert.deepEqual(wordSymbols('é'), ['Ã', '©</w>']);
  });
});

describe('BPE training', () => {
  let dir;
  let out;
  before(() => {
    dir = captionDir(CORPUS);
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'ls-emoji-tok-out-'));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(out, { recursive: true, force: true });
  });

  test('merges are learned in the hand-worked order; every corpus word becomes one token', () => {
    const r = node([path.join(TOOL, 'tokenizer.mjs'), '--data', dir, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^tokenizer: 8 captions, 5 distinct words \(18 in all\), 13 merges, vocab size 527 \(bos 525, eos 526\); every word is one token/);
    const lines = fs.readFileSync(path.join(out, 'merges.txt'), 'utf8').split('\n');
    assert.deepEqual(lines, ['#version: 0.2', ...EXPECTED_MERGES, '']);
    const ranks = mergeRanks(EXPECTED_MERGES.map((m) => m.split(' ')));
    for (const w of ['low', 'lower', 'newest', 'widest', ',']) assert.deepEqual(bpeEncodeWord(w, ranks), [`${w}</w>`]);
    assert.deepEqual(bpeEncodeWord('lowest', ranks), ['low', 'est</w>']);
    assert.deepEqual(bpeEncodeWord('slow', ranks), ['s', 'low</w>']);
  });

  test('vocab.json: bytes, bytes + </w>, merge results in order, then <|startoftext|> <|endoftext|>', () => {
    const text = fs.readFileSync(path.join(out, 'vocab.json'), 'utf8');
    assert.ok(text.startsWith('{"!": 0, "\\"": 1, "#": 2,'), text.slice(0, 40));
    assert.ok(text.endsWith('"<|startoftext|>": 525, "<|endoftext|>": 526}'));
    const vocab = JSON.parse(text);
    // Keys in file order (Object.keys would put the digit keys "0".."9" first).
    const entries = [...text.matchAll(/("(?:\\.|[^"\\])*"): (\d+)/g)];
    const keys = entries.map((m) => JSON.parse(m[1]));
    assert.equal(keys.length, 527);
    assert.equal(Object.keys(vocab).length, 527);
    keys.forEach((k, i) => assert.equal(vocab[k], i));
    entries.forEach((m, i) => assert.equal(Number(m[2]), i));
    assert.deepEqual(keys.slice(0, 256), BYTE_ORDER.map((b) => BYTE_SYMBOL[b]));
    assert.deepEqual(keys.slice(256, 512), BYTE_ORDER.map((b) => `${BYTE_SYMBOL[b]}</w>`));
    assert.deepEqual(keys.slice(512, 525), EXPECTED_MERGES.map((m) => m.replace(' ', '')));
    assert.equal(vocab['Ġ'], 220); // the id CLIP ViT-L/14 gives the space byte
  });

  test('special_tokens_map.json and tokenizer_config.json as transformers writes them for CLIP', () => {
    const map = JSON.parse(fs.readFileSync(path.join(out, 'special_tokens_map.json'), 'utf8'));
    assert.deepEqual(map, { bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', pad_token: '<|endoftext|>', unk_token: '<|endoftext|>' });
    const config = JSON.parse(fs.readFileSync(path.join(out, 'tokenizer_config.json'), 'utf8'));
    assert.equal(config.model_max_length, 77);
    assert.equal(config.tokenizer_class, 'CLIPTokenizer');
    assert.equal(config.pad_token, '<|endoftext|>');
  });

  test('deterministic: a second run gives byte-identical files; word order does not matter', () => {
    const again = fs.mkdtempSync(path.join(os.tmpdir(), 'ls-emoji-tok-out-'));
    try {
      buildTokenizer({ data: dir, out: again });
      for (const f of FILES) assert.ok(fs.readFileSync(path.join(out, f)).equals(fs.readFileSync(path.join(again, f))), f);
    } finally {
      fs.rmSync(again, { recursive: true, force: true });
    }
    const counts = [['low', 5], ['lower', 2], ['newest', 6], ['widest', 3]];
    const a = trainBpe(new Map(counts)).merges;
    const b = trainBpe(new Map([...counts].reverse())).merges;
    assert.deepEqual(a, b);
    assert.deepEqual(a.map((m) => m.join(' ')), EXPECTED_MERGES);
  });

  test('--vocab-size caps the merges', () => {
    const capped = fs.mkdtempSync(path.join(os.tmpdir(), 'ls-emoji-tok-out-'));
    try {
      const r = node([path.join(TOOL, 'tokenizer.mjs'), '--data', dir, '--out', capped, '--vocab-size', '517']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /3 merges, vocab size 517 \(bos 515, eos 516\); 4 words still split/);
      assert.equal(fs.readFileSync(path.join(capped, 'merges.txt'), 'utf8'), '#version: 0.2\ne s\nes t</w>\nl o\n');
    } finally {
      fs.rmSync(capped, { recursive: true, force: true });
    }
  });
});

describe('errors', () => {
  test('bad options and inputs give one-line errors naming the option or file', () => {
    const cli = path.join(TOOL, 'tokenizer.mjs');
    let r = node([cli, '--out', os.tmpdir()]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--data and --out are required/);
    r = node([cli, '--data', os.tmpdir(), '--out', os.tmpdir(), '--vocab-size', '12x']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--vocab-size 12x: not a whole number/);
    const dir = captionDir({ 'base/1_x/a.txt': 'ok', 'base/1_x/b.txt': Buffer.from([0x61, 0xff]) });
    try {
      r = node([cli, '--data', dir, '--out', path.join(dir, 'tok'), '--vocab-size', '100']);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^tokenizer.mjs: --vocab-size 100: must be an integer >= 514\n$/);
      r = node([cli, '--data', dir, '--out', path.join(dir, 'tok')]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /b\.txt: cannot read caption \(.*\)/);
      r = node([cli, '--data', path.join(dir, 'base', '1_x'), '--out', path.join(dir, 'tok')]);
      assert.match(r.stderr, /1_x: no captions \(expected DIR\/<set>\/<folder>\/\*\.txt/);
      r = node([cli, '--data', path.join(dir, 'missing'), '--out', path.join(dir, 'tok')]);
      assert.match(r.stderr, /missing: cannot read folder \(ENOENT\)/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
