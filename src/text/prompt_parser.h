// A1111 prompt syntax: attention emphasis and BREAK, and the 75-token chunking of long prompts.
//
// Reference (read, not copied): AUTOMATIC1111 stable-diffusion-webui modules/prompt_parser.py
// parse_prompt_attention and modules/sd_hijack_clip.py tokenize_line (emphasis "Original", comma padding
// backtrack 20, chunk length 75):
//   (text)  weight × 1.1     (text:1.3)  weight × 1.3     [text]  weight ÷ 1.1
//   (text: 1.3 ) too: white space around the weight (A1111 ≥ 1.6, re_attention's :\s*([+-]?[.\d]+)\s*\))
//   \( \) \[ \]  literal brackets; \\  a backslash; a lone \ is dropped
//   unbalanced brackets apply their multiplier to the end of the prompt; stray ) ] are text
//   (a:abc) is text "a:abc" at × 1.1 (':' followed by a non-number is text)
//   BREAK (a whole word, surrounded by any whitespace) ends the current chunk
//   runs of equal weight are merged; an empty prompt is [("", 1.0)]
// Weights are multiplied in double precision as A1111 does (1.1·1.1·1.3 = 1.5730000000000004) and become
// float32 only as token multipliers. Prompt-editing syntax ([a:b:0.5], [a|b]) is not interpreted here: the
// engine resolves it first (text/prompt_schedule.h) and passes each step's plain text to this parser.
#pragma once

#include <string>
#include <vector>

namespace ls::text {

/// One parsed span: text and its attention weight. BREAK is {"BREAK", -1.0}.
struct PromptSpan {
  std::string text;
  double weight = 1.0;
  bool operator==(const PromptSpan&) const = default;
};

/// parse_prompt_attention. Throws ls::Error (naming the weight text) where A1111 raises — a weight such as
/// "1.2.3" or "." that the pattern accepts but float() rejects — and for a weight that is not finite (A1111
/// would produce NaN conditioning). `text` must be UTF-8 (invalid bytes are kept as they are).
std::vector<PromptSpan> parse_prompt_attention(const std::string& text);

/// One 77-token chunk: BOS + 75 tokens (padded with EOS) + EOS, and a multiplier per token.
struct PromptChunk {
  std::vector<int> tokens;         ///< [77]
  std::vector<float> multipliers;  ///< [77], 1.0 for BOS / EOS / padding
};

/// A1111 tokenize_line: tokens of each span (`tokenize(text)` = the tokenizer without BOS/EOS), packed into
/// chunks of 75 with the span weight as multiplier; a chunk that fills up right after a comma within the last
/// `comma_backtrack` tokens moves the tokens after that comma to the next chunk; BREAK starts a new chunk; at
/// least one chunk. `bos`, `eos`, `comma` are the tokenizer's ids (eos also pads).
template <typename Tokenize>
std::vector<PromptChunk> chunk_prompt(const std::vector<PromptSpan>& spans, Tokenize tokenize, int bos, int eos,
                                      int comma, int chunk_length = 75, int comma_backtrack = 20);

}  // namespace ls::text

#include "text/prompt_chunks.inl"
