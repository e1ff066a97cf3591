// Byte-pair-encoding training and encoding on CLIP's byte-level symbols (lib/clip_text.mjs).
// Training is the standard algorithm (Sennrich et al. 2016, "Neural Machine Translation of Rare Words with
// Subword Units"; the merge step of HF tokenizers' BpeTrainer): count adjacent symbol pairs over all words,
// weighted by word frequency; merge the most frequent pair everywhere (left to right, non-overlapping);
// repeat. Encoding is OpenAI CLIP's simple_tokenizer `bpe()`: merge the lowest-ranked adjacent pair until none
// has a rule.
import { wordSymbols } from './clip_text.mjs';

/**
 * Learn merges from word frequencies.
 * Ties between equally frequent pairs go to the smaller left token, then the smaller right token, both
 * compared as strings (UTF-16 code units; the byte-level symbols are all below U+0180, so this is code-point
 * order): deterministic and independent of the order of `wordCounts`.
 * @param {Map<string, number>} wordCounts word (a pre-tokenised CLIP word, see clipWords) -> count > 0
 * @param {{maxTokens?: number}} [opt] stop once this many new tokens were added (default: no limit)
 * @returns {{merges: [string, string][], tokens: string[], words: Map<string, string[]>}} merges in rank order;
 *   tokens: the merge results in merge order, each once (a result equal to an earlier token is not repeated);
 *   words: each word's final segmentation
 */
export function trainBpe(wordCounts, { maxTokens = Infinity } = {}) {
  const names = []; // token id -> string
  const ids = new Map(); // string -> token id
  const tokenId = (s) => {
    if (!ids.has(s)) {
      ids.set(s, names.length);
      names.push(s);
    }
    return ids.get(s);
  };
  const SHIFT = 2 ** 24; // pair key = left * SHIFT + right (token ids stay far below 2^24)
  const sorted = [...wordCounts.keys()].sort();
  const words = sorted.map((w) => ({ text: w, sym: wordSymbols(w).map(tokenId), count: wordCounts.get(w) }));

  const pairCount = new Map(); // pair key -> weighted count
  const pairWords = new Map(); // pair key -> Set of word indices that had the pair (may hold stale entries)
  const addPairs = (wi, sign) => {
    const { sym, count } = words[wi];
    for (let i = 0; i + 1 < sym.length; i++) {
      const key = sym[i] * SHIFT + sym[i + 1];
      const c = (pairCount.get(key) || 0) + sign * count;
      if (c > 0) pairCount.set(key, c);
      else pairCount.delete(key);
      if (sign > 0) {
        if (!pairWords.has(key)) pairWords.set(key, new Set());
        pairWords.get(key).add(wi);
      }
    }
  };
  words.forEach((_, wi) => addPairs(wi, 1));

  const merges = [];
  const tokens = [];
  while (tokens.length < maxTokens) {
    let best = -1;
    let bestCount = 0;
    for (const [key, c] of pairCount) {
      if (c > bestCount || (c === bestCount && pairBefore(key, best, names, SHIFT))) {
        best = key;
        bestCount = c;
      }
    }
    if (best < 0) break; // every word is one token
    const a = Math.floor(best / SHIFT);
    const b = best % SHIFT;
    const merged = names[a] + names[b];
    if (!ids.has(merged)) tokens.push(merged);
    const m = tokenId(merged);
    merges.push([names[a], names[b]]);
    for (const wi of pairWords.get(best)) {
      const { sym } = words[wi];
      if (!sym.some((s, i) => s === a && sym[i + 1] === b)) continue; // stale entry
      addPairs(wi, -1);
      const next = [];
      for (let i = 0; i < sym.length; i++) {
        if (sym[i] === a && i + 1 < sym.length && sym[i + 1] === b) {
          next.push(m);
          i++;
        } else {
          next.push(sym[i]);
        }
      }
      words[wi].sym = next;
      addPairs(wi, 1);
    }
    pairWords.delete(best);
  }
  return { merges, tokens, words: new Map(words.map((w) => [w.text, w.sym.map((s) => names[s])])) };
}

/** Whether pair key `k` sorts before pair key `best` (left token string, then right token string). */
function pairBefore(k, best, names, SHIFT) {
  const la = names[Math.floor(k / SHIFT)];
  const lb = names[Math.floor(best / SHIFT)];
  if (la !== lb) return la < lb;
  return names[k % SHIFT] < names[best % SHIFT];
}

/**
 * Merge ranks for bpeEncodeWord.
 * @param {[string, string][]} merges in priority order
 * @returns {Map<string, number>} "left right" -> rank (a repeated rule keeps its last rank, like the loaders)
 */
export function mergeRanks(merges) {
  return new Map(merges.map(([a, b], i) => [`${a} ${b}`, i]));
}

/**
 * CLIP BPE of one pre-tokenised word (OpenAI simple_tokenizer.py `bpe()`): start from wordSymbols(word); while
 * some adjacent pair has a rule, take the lowest-ranked one and merge all its occurrences left to right.
 * @param {string} word
 * @param {Map<string, number>} ranks from mergeRanks
 * @returns {string[]} token strings ("</w>" on the last)
 */
export function bpeEncodeWord(word, ranks) {
  let sym = wordSymbols(word);
  for (;;) {
    let bestRank = Infinity;
    let pair = null;
    for (let i = 0; i + 1 < sym.length; i++) {
      const r = ranks.get(`${sym[i]} ${sym[i + 1]}`);
      if (r !== undefined && r < bestRank) {
        bestRank = r;
        pair = [sym[i], sym[i + 1]];
      }
    }
    if (!pair) return sym;
    const next = [];
    for (let i = 0; i < sym.length; i++) {
      if (i + 1 < sym.length && sym[i] === pair[0] && sym[i + 1] === pair[1]) {
        next.push(pair[0] + pair[1]);
        i++;
      } else {
        next.push(sym[i]);
      }
    }
    sym = next;
  }
}
