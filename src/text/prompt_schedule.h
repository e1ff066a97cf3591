// A1111 prompt editing and alternation: which plain prompt text is in force at each sampler step.
//
// Reference (read, not copied): AUTOMATIC1111 stable-diffusion-webui modules/prompt_parser.py (v1.6+ grammar:
// schedule_parser, get_learned_conditioning_prompt_schedules, reconstruct_cond_batch).
//   [from:to:when]   `from` up to step `when`, `to` after it      [to:when]  nothing, then `to`
//   [from::when]     `from`, then nothing                          [a|b|c]    a, b, c, a, … one per step
//   when: a number. Contains '.' → a fraction of the steps (0.25 → ⌊0.25·steps⌋); no '.' → a step number
//   (A1111's default; `use_old_scheduling`: < 1 → fraction, ≥ 1 → step number). Whitespace is allowed
//   around it. Nesting works; (emphasis) and BREAK are left in the text for parse_prompt_attention.
// The grammar, as A1111's lark grammar resolves it (checked against A1111's own code, tests/text):
//   - inside a construct, every ( [ opens a nested construct and :, | separate; text is anything else, with
//     \x (x not a line feed) an escaped character;
//   - ( a ) and ( a : b ) are emphasis; [ a ] emphasis; [ a | b … ] alternation (options may be empty);
//     [ a : n ], [ a : b : n ] scheduling when n (after the last ':') is a number; any other shape makes
//     the construct — and every construct it is nested in — invalid;
//   - at the top level an invalid construct's opening bracket is plain text, as are stray ) ] : ;
//   - a top-level '|' (one not inside a valid [a|b]), or a '\' at the end or before a line feed, makes the
//     whole prompt fail to parse: it is then used as it is, at every step (A1111 catches the LarkError).
// The schedule's end steps are A1111's: sorted distinct values of `steps` and of every `when` that resolves
// to ≥ 1 (clamped to `steps`), and 1..steps when there is an alternation.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace ls::text {

/// The texts of one prompt over the sampler steps (A1111's prompt_schedule for one prompt).
struct PromptSchedule {
  /// One schedule entry: `texts[text]` is in force for steps up to and including `end_step`.
  struct Entry {
    int end_step = 0;
    size_t text = 0;
    bool operator==(const Entry&) const = default;
  };
  std::vector<std::string> texts;  ///< distinct texts, in the order of first use
  std::vector<Entry> entries;      ///< ascending, distinct end steps; never empty

  /// A1111 reconstruct_cond_batch: the text index of the first entry whose end_step ≥ `step`, else of the
  /// first entry (A1111's fallback). `step` is A1111's CFGDenoiser.step: 0 at the first denoiser call.
  size_t text_at(long long step) const;
  /// [(end_step, text)] as A1111's get_learned_conditioning_prompt_schedules returns it for one prompt.
  std::vector<std::pair<int, std::string>> pairs() const;
  /// True for a one-entry schedule: the same text at every step (nothing to switch).
  bool is_static() const { return entries.size() == 1; }
};

/// get_learned_conditioning_prompt_schedules for one prompt. `base_steps` ≥ 1 is the step count (A1111
/// passes the sampler's total denoiser calls); `hires_steps` > 0 selects A1111's hires-fix second-pass
/// rules (steps = hires_steps, integer `when` offset by base_steps, fractional `when` by 1.0); 0 = none.
/// `use_old_scheduling`: A1111's option of that name. Linear in the prompt length per distinct step;
/// nesting depth is unbounded (no recursion). Throws ls::Error for base_steps < 1 or hires_steps < 0, and
/// where A1111 raises: a `when` that is infinite or overflows to infinity (e.g. 1e999), naming it.
PromptSchedule prompt_schedule(const std::string& prompt, int base_steps, int hires_steps = 0,
                               bool use_old_scheduling = false);

}  // namespace ls::text
