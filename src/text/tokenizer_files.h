// Locating, reading and writing the CLIP tokenizer files (vocab.json + merges.txt).
#pragma once

#include <cstddef>
#include <string>

namespace ls::text {

/// Largest tokenizer file read (64 MiB; CLIP's vocab.json is ~1 MB, merges.txt ~0.5 MB).
inline constexpr size_t kMaxTokenizerFileBytes = size_t{64} << 20;

/// Whole contents of `path`. Throws ls::Error naming `path` if it cannot be opened or read, or is larger
/// than `max_bytes`.
std::string read_text_file(const std::string& path, size_t max_bytes = kMaxTokenizerFileBytes);

/// The folder holding the CLIP tokenizer (both vocab.json and merges.txt) for a model.
/// `explicit_dir` (the --tokenizer option), when non-empty, is the only place looked at.
/// Otherwise the first folder containing both files, in this order:
///   model_dir_or_file is a folder:  <model>/tokenizer
///   model_dir_or_file is a file:    <parent>/<stem>.tokenizer, then <parent>/tokenizer
///   $LORASTACK_DATA/tokenizer/clip              (if LORASTACK_DATA is set)
///   $HOME/.local/share/lorastack/tokenizer/clip (if HOME is set)
///   /usr/local/share/lorastack/tokenizer/clip
///   /usr/share/lorastack/tokenizer/clip
/// An empty model_dir_or_file skips the model step. Throws ls::Error listing every folder looked at
/// when none has both files.
std::string find_tokenizer_dir(const std::string& model_dir_or_file, const std::string& explicit_dir);

/// Write a byte-level-only CLIP tokenizer into `dir` (created if missing): vocab.json with the 256 byte
/// symbols (ids 0..255, in CLIP's order), their "</w>" forms (256..511), "<|startoftext|>" (512) and
/// "<|endoftext|>" (513); merges.txt with only the "#version: 0.2" line. Every word then encodes to one
/// id per UTF-8 byte; used for tiny built-in models (vocab size 514). Same ids 0..511 as CLIP ViT-L/14.
/// Throws ls::Error naming the file if it cannot be written.
void write_byte_tokenizer(const std::string& dir);

}  // namespace ls::text
