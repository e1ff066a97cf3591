// parse_prompt_attention (see prompt_parser.h). The alternatives of A1111's re_attention are matched by hand
// in its order; the BREAK split uses PCRE2 with Unicode \s, \b (UTF + UCP) like Python's re on str.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "text/prompt_parser.h"

#include <pcre2.h>

#include <charconv>
#include <cmath>
#include <memory>

#include "runtime/error.h"

namespace ls::text {
namespace {

bool is_digit_or_dot(char c) { return (c >= '0' && c <= '9') || c == '.'; }

// Byte length of the whitespace character at text[i] as Python's re \s on str sees it (str.isspace: ASCII
// \t..\r, \x1c..\x1f, space; U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000
// in UTF-8), or 0.
size_t space_at(const std::string& t, size_t i) {
  const auto b = [&](size_t k) { return i + k < t.size() ? static_cast<unsigned char>(t[i + k]) : 0u; };
  const unsigned c = b(0);
  if ((c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20)) return 1;
  if (c == 0xc2 && (b(1) == 0x85 || b(1) == 0xa0)) return 2;
  if (c == 0xe1 && b(1) == 0x9a && b(2) == 0x80) return 3;  // U+1680
  if (c == 0xe2 && b(1) == 0x80 && ((b(2) >= 0x80 && b(2) <= 0x8a) || b(2) == 0xa8 || b(2) == 0xa9 || b(2) == 0xaf))
    return 3;                                                // U+2000..200A, 2028, 2029, 202F
  if (c == 0xe2 && b(1) == 0x81 && b(2) == 0x9f) return 3;  // U+205F
  if (c == 0xe3 && b(1) == 0x80 && b(2) == 0x80) return 3;  // U+3000
  return 0;
}

size_t skip_spaces(const std::string& t, size_t i) {
  while (size_t k = space_at(t, i)) i += k;
  return i;
}

// Python float() of a [+-]?[.\d]+ string: digits with at most one '.', at least one digit
double parse_weight(const std::string& w) {
  std::string body = w;
  bool neg = false;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    neg = body[0] == '-';
    body.erase(0, 1);
  }
  int dots = 0, digits = 0;
  for (char c : body) (c == '.' ? dots : digits)++;
  if (dots > 1 || digits == 0) fail("prompt: emphasis weight '{}' is not a number", w);
  double v = 0.0;
  auto [ptr, ec] = std::from_chars(body.data(), body.data() + body.size(), v);
  if (ec == std::errc::result_out_of_range || !std::isfinite(v)) fail("prompt: emphasis weight '{}' is not finite", w);
  if (ec != std::errc() || ptr != body.data() + body.size()) fail("prompt: emphasis weight '{}' is not a number", w);
  return neg ? -v : v;
}

struct Pcre2Code {
  pcre2_code* code = nullptr;
  ~Pcre2Code() { pcre2_code_free(code); }
};

const pcre2_code* break_pattern() {
  static Pcre2Code p = [] {
    Pcre2Code c;
    int err = 0;
    PCRE2_SIZE off = 0;
    c.code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(R"(\s*\bBREAK\b\s*)"), PCRE2_ZERO_TERMINATED,
                           PCRE2_UTF | PCRE2_UCP | PCRE2_DOTALL | PCRE2_MATCH_INVALID_UTF, &err, &off, nullptr);
    if (!c.code) fail("prompt: PCRE2 rejected the BREAK pattern (error {})", err);
    return c;
  }();
  return p.code;
}

// re.split(re_break, text)
std::vector<std::string> split_break(const std::string& text) {
  std::vector<std::string> parts;
  if (text.find("BREAK") == std::string::npos) return {text};
  const pcre2_code* re = break_pattern();
  std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> md(pcre2_match_data_create_from_pattern(re, nullptr),
                                                                    pcre2_match_data_free);
  size_t start = 0, pos = 0;
  while (pos <= text.size()) {
    const int rc = pcre2_match(re, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), pos, 0, md.get(), nullptr);
    if (rc < 0) break;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    parts.push_back(text.substr(start, ov[0] - start));
    start = ov[1];
    pos = ov[1] > ov[0] ? ov[1] : ov[1] + 1;  // the pattern never matches empty (BREAK is required)
  }
  parts.push_back(text.substr(start));
  return parts;
}

}  // namespace

std::vector<PromptSpan> parse_prompt_attention(const std::string& text) {
  std::vector<PromptSpan> res;
  std::vector<size_t> round, square;
  auto multiply_range = [&](size_t from, double m) {
    for (size_t p = from; p < res.size(); ++p) res[p].weight *= m;
  };
  auto add_text = [&](const std::string& t) {
    const std::vector<std::string> parts = split_break(t);
    for (size_t i = 0; i < parts.size(); ++i) {
      if (i > 0) res.push_back({"BREAK", -1.0});
      res.push_back({parts[i], 1.0});
    }
  };
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const char c = text[i];
    if (c == '\\') {
      if (i + 1 < n && (text[i + 1] == '(' || text[i + 1] == ')' || text[i + 1] == '[' || text[i + 1] == ']' ||
                        text[i + 1] == '\\')) {
        res.push_back({std::string(1, text[i + 1]), 1.0});
        i += 2;
      } else {
        res.push_back({"", 1.0});  // a lone backslash: text[1:] is empty
        ++i;
      }
    } else if (c == '(') {
      round.push_back(res.size());
      ++i;
    } else if (c == '[') {
      square.push_back(res.size());
      ++i;
    } else if (c == ':') {
      // :\s*([+-]?[.\d]+)\s*\)   (A1111 ≥ 1.6 allows white space around the weight)
      size_t j = skip_spaces(text, i + 1);
      const size_t weight_from = j;
      if (j < n && (text[j] == '+' || text[j] == '-')) ++j;
      const size_t digits_from = j;
      while (j < n && is_digit_or_dot(text[j])) ++j;
      const size_t weight_to = j;
      j = skip_spaces(text, j);
      if (weight_to > digits_from && j < n && text[j] == ')') {
        const std::string weight = text.substr(weight_from, weight_to - weight_from);
        if (!round.empty()) {
          const double w = parse_weight(weight);
          multiply_range(round.back(), w);
          round.pop_back();
        } else {
          add_text(text.substr(i, j + 1 - i));
        }
        i = j + 1;
      } else {
        add_text(":");
        ++i;
      }
    } else if (c == ')') {
      if (!round.empty()) {
        multiply_range(round.back(), 1.1);
        round.pop_back();
      } else {
        add_text(")");
      }
      ++i;
    } else if (c == ']') {
      if (!square.empty()) {
        multiply_range(square.back(), 1.0 / 1.1);
        square.pop_back();
      } else {
        add_text("]");
      }
      ++i;
    } else {
      size_t j = i;
      while (j < n && text[j] != '\\' && text[j] != '(' && text[j] != ')' && text[j] != '[' && text[j] != ']' &&
             text[j] != ':')
        ++j;
      add_text(text.substr(i, j - i));
      i = j;
    }
  }
  for (size_t pos : round) multiply_range(pos, 1.1);
  for (size_t pos : square) multiply_range(pos, 1.0 / 1.1);
  if (res.empty()) res.push_back({"", 1.0});
  // merge runs of identical weights (one pass; same result as A1111's pop loop)
  std::vector<PromptSpan> merged;
  for (PromptSpan& s : res) {
    if (!merged.empty() && merged.back().weight == s.weight) merged.back().text += s.text;
    else merged.push_back(std::move(s));
  }
  return merged;
}

}  // namespace ls::text
