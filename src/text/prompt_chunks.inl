// chunk_prompt (declared in prompt_parser.h): A1111 sd_hijack_clip.py tokenize_line, read as reference.
#pragma once

namespace ls::text {

template <typename Tokenize>
std::vector<PromptChunk> chunk_prompt(const std::vector<PromptSpan>& spans, Tokenize tokenize, int bos, int eos,
                                      int comma, int chunk_length, int comma_backtrack) {
  std::vector<PromptChunk> chunks;
  PromptChunk chunk;
  int last_comma = -1;
  auto next_chunk = [&] {
    const int to_add = chunk_length - static_cast<int>(chunk.tokens.size());
    if (to_add > 0) {
      chunk.tokens.insert(chunk.tokens.end(), to_add, eos);
      chunk.multipliers.insert(chunk.multipliers.end(), to_add, 1.0f);
    }
    chunk.tokens.insert(chunk.tokens.begin(), bos);
    chunk.tokens.push_back(eos);
    chunk.multipliers.insert(chunk.multipliers.begin(), 1.0f);
    chunk.multipliers.push_back(1.0f);
    last_comma = -1;
    chunks.push_back(std::move(chunk));
    chunk = PromptChunk();
  };
  for (const PromptSpan& span : spans) {
    if (span.text == "BREAK" && span.weight == -1.0) {
      next_chunk();
      continue;
    }
    const std::vector<int> tokens = tokenize(span.text);
    const float weight = static_cast<float>(span.weight);
    for (size_t position = 0; position < tokens.size(); ++position) {
      const int token = tokens[position];
      const int len = static_cast<int>(chunk.tokens.size());
      if (token == comma) {
        last_comma = len;
      } else if (comma_backtrack != 0 && len == chunk_length && last_comma != -1 &&
                 len - last_comma <= comma_backtrack) {
        const int brk = last_comma + 1;
        std::vector<int> reloc_tokens(chunk.tokens.begin() + brk, chunk.tokens.end());
        std::vector<float> reloc_mults(chunk.multipliers.begin() + brk, chunk.multipliers.end());
        chunk.tokens.resize(brk);
        chunk.multipliers.resize(brk);
        next_chunk();
        chunk.tokens = std::move(reloc_tokens);
        chunk.multipliers = std::move(reloc_mults);
      }
      if (static_cast<int>(chunk.tokens.size()) == chunk_length) next_chunk();
      chunk.tokens.push_back(token);
      chunk.multipliers.push_back(weight);
    }
  }
  if (!chunk.tokens.empty() || chunks.empty()) next_chunk();
  return chunks;
}

}  // namespace ls::text
