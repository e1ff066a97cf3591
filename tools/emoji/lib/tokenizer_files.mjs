// The four files of a CLIP tokenizer folder, byte for byte in the layout OpenAI CLIP / transformers'
// CLIPTokenizer use (and lorastack's src/text/clip_tokenizer.h reads): vocab.json, merges.txt,
// special_tokens_map.json, tokenizer_config.json.
import { BOS, BYTE_ORDER, BYTE_SYMBOL, EOS, EOW } from './clip_text.mjs';

/** Ids below this are the byte symbols (0..255) and their "</w>" forms (256..511). */
export const BYTE_TOKENS = 512;

/**
 * The vocabulary in id order: 256 byte symbols (BYTE_ORDER), the same with "</w>", then `tokens` (merge
 * results in merge order), then "<|startoftext|>" and "<|endoftext|>" (so bos = size - 2, eos = size - 1).
 * @param {string[]} tokens distinct merge results
 * @returns {string[]} token of each id
 */
export function vocabList(tokens) {
  const bytes = BYTE_ORDER.map((b) => BYTE_SYMBOL[b]);
  return [...bytes, ...bytes.map((s) => s + EOW), ...tokens, BOS, EOS];
}

/**
 * vocab.json text: one line `{"!": 0, "\"": 1, ...}` (Python json.dumps spacing, non-ASCII kept as UTF-8,
 * no trailing newline), keys in id order.
 * @param {string[]} vocab token of each id (vocabList)
 * @throws {Error} if a token repeats
 */
export function vocabJson(vocab) {
  if (new Set(vocab).size !== vocab.length) throw new Error('vocabulary has a repeated token (internal error)');
  return `{${vocab.map((t, i) => `${JSON.stringify(t)}: ${i}`).join(', ')}}`;
}

/** merges.txt text: "#version: 0.2", then "left right" per merge in rank order, each line ending in "\n". */
export function mergesTxt(merges) {
  return `#version: 0.2\n${merges.map(([a, b]) => `${a} ${b}\n`).join('')}`;
}

/** special_tokens_map.json as transformers saves it for CLIP (openai/clip-vit-large-patch14 values). */
export function specialTokensMapJson() {
  return `${JSON.stringify({ bos_token: BOS, eos_token: EOS, pad_token: EOS, unk_token: EOS }, null, 1)}\n`;
}

/** tokenizer_config.json as transformers saves it for CLIPTokenizer (model_max_length 77, keys sorted). */
export function tokenizerConfigJson() {
  const config = {
    add_prefix_space: false, bos_token: BOS, do_lower_case: true, eos_token: EOS, errors: 'replace',
    model_max_length: 77, pad_token: EOS, tokenizer_class: 'CLIPTokenizer', unk_token: EOS,
  };
  return `${JSON.stringify(config, null, 1)}\n`;
}
