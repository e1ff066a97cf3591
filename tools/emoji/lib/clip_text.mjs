// CLIP text front end, as lorastack's C++ loader applies it before BPE (src/text/clip_normalize.*,
// clip_pretokenize.*, byte_unicode.*; reference: transformers' CLIPTokenizer, tokenizers backend):
// cut out the exact special tokens, normalise (NFC, whitespace runs -> ' ', per-code-point lower case),
// split into words with CLIP's pattern (then GPT-2's ByteLevel pattern), and spell each word's UTF-8
// bytes with the GPT-2 byte-level alphabet, "</w>" appended to the last symbol.

export const BOS = '<|startoftext|>';
export const EOS = '<|endoftext|>';
/** End-of-word marker appended to a word's last symbol. */
export const EOW = '</w>';

const printable = (b) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);

/**
 * The 256 bytes in CLIP vocabulary order (OpenAI GPT-2 / CLIP `bytes_to_unicode()`): the 188 printable
 * bytes '!'..'~', '¡'..'¬', '®'..'ÿ' ascending, then the other 68 ascending. vocab.json ids 0..255.
 * @type {number[]}
 */
export const BYTE_ORDER = [
  ...Array.from({ length: 256 }, (_, b) => b).filter(printable),
  ...Array.from({ length: 256 }, (_, b) => b).filter((b) => !printable(b)),
];

/** BYTE_SYMBOL[b]: the one-character string standing for byte b (printable bytes themselves, the rest U+0100.. in order). */
export const BYTE_SYMBOL = (() => {
  const sym = new Array(256);
  let extra = 0;
  for (const b of BYTE_ORDER) sym[b] = String.fromCodePoint(printable(b) ? b : 0x100 + extra++);
  return sym;
})();

// CLIP whitespace (clip_normalize.h is_clip_space): U+0009..U+000D, U+0085 and general category Z.
const CLIP_SPACE = /^[\t-\r\x85\p{Z}]$/u;
// CLIP pre-tokeniser pattern with \s spelled as the CLIP whitespace set (clip_pretokenize.cpp kClipPattern).
const CLIP_WORD = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\t-\r\x85\p{Z}\p{L}\p{N}]+/gu;
// GPT-2 pattern of the ByteLevel step (kByteLevelPattern), \s as PCRE2's UCP \s (Z, \h, \v) like the C++ loader.
const S = '\\t-\\r\\x85\\u180e\\p{Z}';
const BYTE_LEVEL = new RegExp(`'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${S}\\p{L}\\p{N}]+|[${S}]+(?![^${S}])|[${S}]+`, 'gu');

/**
 * Normalise `text` like clip_normalize (C++): Unicode NFC, each run of CLIP whitespace -> one ' ',
 * each code point lower-cased on its own (full default mapping, no context). Ends are not trimmed.
 * @param {string} text
 * @returns {string}
 */
export function clipNormalize(text) {
  let out = '';
  let inSpace = false;
  for (const ch of text.normalize('NFC')) {
    if (CLIP_SPACE.test(ch)) {
      if (!inSpace) out += ' ';
      inSpace = true;
      continue;
    }
    inSpace = false;
    out += ch.toLowerCase();
  }
  return out;
}

/** Matches of `re` in `s` plus, when keepGaps, the unmatched stretches between them, in order. */
function pieces(re, s, keepGaps) {
  const out = [];
  let pos = 0;
  for (const m of s.matchAll(re)) {
    if (keepGaps && m.index > pos) out.push(s.slice(pos, m.index));
    out.push(m[0]);
    pos = m.index + m[0].length;
  }
  if (keepGaps && pos < s.length) out.push(s.slice(pos));
  return out;
}

/**
 * The words BPE runs on for `text` (what ClipTokenizer::encode feeds to BPE), special tokens dropped:
 * "lscat cat, Tears of joy" -> ["lscat", "cat", ",", "tears", "of", "joy"].
 * @param {string} text any string
 * @returns {string[]}
 */
export function clipWords(text) {
  const words = [];
  for (const segment of text.split(new RegExp(`${escape(BOS)}|${escape(EOS)}`))) {
    for (const piece of pieces(CLIP_WORD, clipNormalize(segment), false)) words.push(...pieces(BYTE_LEVEL, piece, true));
  }
  return words;
}

function escape(s) {
  return s.replace(/[|]/g, '\\|');
}

/**
 * Initial BPE symbols of `word`: one byte symbol per UTF-8 byte, "</w>" appended to the last
 * ("cat" -> ["c", "a", "t</w>"]).
 * @param {string} word non-empty
 * @returns {string[]}
 */
export function wordSymbols(word) {
  const sym = Array.from(new TextEncoder().encode(word), (b) => BYTE_SYMBOL[b]);
  sym[sym.length - 1] += EOW;
  return sym;
}
