// Output file names from a pattern (`lorastack generate -o`): fields in braces `{seed}`, `{prompt:20}` or in
// A1111's brackets `[seed]`, `[prompt]`, filled per image.
//
// Fields (numbers zero-padded to the width after ':', text cut to that many characters):
//   {seed}      the image's seed                 {n}        image index in this run, from 0
//   {batch}     batch number, from 0             {pos}      position in its batch, from 0
//   {prompt}    the prompt without LoRA tags     {negative} the negative prompt
//   {steps} {cfg} {sampler} {scheduler} {width} {height}
//   {model}     the checkpoint's file stem       {lora}     adapter names joined by '+' ("" without adapters)
//   {date}      YYYY-MM-DD                       {time}     HH-MM-SS     {datetime}  YYYYMMDDHHMMSS
// A1111 spellings are accepted in brackets: [seed], [prompt], [prompt_spaces] (= prompt), [negative_prompt],
// [steps], [cfg], [sampler], [model_name], [width], [height], [date], [datetime], [batch_number], [generation_number]
// (= n). A bracketed word that is no field stays literal; `{{` and `}}` are literal braces.
// Text values are made file-name safe: spaces become '_', path separators and < > : " | ? * and control
// characters are dropped, leading dots removed, so a value never adds a folder or escapes one.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace ls::toolbox {

class NamePattern {
 public:
  /// Parse `pattern`. Throws ls::Error naming the pattern for an unknown {field}, an unclosed '{', a width that
  /// is not a number 1..200.
  explicit NamePattern(std::string pattern);

  /// True when the pattern names a field that differs between images of one run ({n}, {seed}, {pos}, {batch}).
  bool per_image() const { return per_image_; }

  /// The file name for `values` (field name → raw value; missing fields render empty).
  std::string render(const std::map<std::string, std::string>& values) const;

  const std::string& pattern() const { return pattern_; }

  /// Every field name render() understands, in documentation order.
  static const std::vector<std::string>& fields();

 private:
  struct Piece {
    std::string literal;  ///< when field is empty
    std::string field;
    int width = 0;        ///< 0 = as is
  };
  std::string pattern_;
  std::vector<Piece> pieces_;
  bool per_image_ = false;
};

/// The image format of an output path by its extension (case-insensitive): "png", "jpeg" (.jpg, .jpeg) or "webp".
/// Throws ls::Error naming the path for any other extension (or none).
std::string image_format_of(const std::string& path);

/// `path` with "-N" inserted before its extension ("out/a.png", 3 → "out/a-3.png").
std::string with_index_suffix(const std::string& path, int64_t n);

}  // namespace ls::toolbox
