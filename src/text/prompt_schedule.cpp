// A1111 prompt editing / alternation (see prompt_schedule.h). The prompt is parsed once into a list of
// valid bracket constructs (iteratively, memoised by start position, so nesting depth and malformed
// brackets cost no recursion and linear time); each distinct step's text is then rendered from the source
// with the scheduled / alternate constructs replaced by their chosen part.
#include "text/prompt_schedule.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <set>
#include <unordered_map>

#include "runtime/error.h"

namespace ls::text {
namespace {

enum class Kind : uint8_t { Emphasis, Scheduled, Alternate };

struct Construct {
  Kind kind = Kind::Emphasis;
  size_t begin = 0, end = 0;       ///< [begin, end) including the brackets
  std::vector<size_t> seps;        ///< positions of the ':' / '|' at this construct's level
  std::vector<uint32_t> children;  ///< nested constructs at this level, in source order
  long long when = 0;              ///< Scheduled: the resolved step
};

constexpr int32_t kUnknown = -2, kInvalid = -1;

// Python str.isspace() (= re's \s on str) for the UTF-8 sequence at s[i]; returns its byte length or 0.
size_t space_at(const std::string& s, size_t i) {
  const auto b = [&](size_t k) { return k < s.size() ? static_cast<unsigned char>(s[k]) : 0u; };
  const unsigned c0 = b(i);
  if ((c0 >= 0x09 && c0 <= 0x0d) || (c0 >= 0x1c && c0 <= 0x20)) return 1;
  if (c0 == 0xc2 && (b(i + 1) == 0x85 || b(i + 1) == 0xa0)) return 2;
  if (c0 == 0xe1 && b(i + 1) == 0x9a && b(i + 2) == 0x80) return 3;  // U+1680
  if (c0 == 0xe2 && b(i + 1) == 0x80) {
    const unsigned c2 = b(i + 2);
    if ((c2 >= 0x80 && c2 <= 0x8a) || c2 == 0xa8 || c2 == 0xa9 || c2 == 0xaf) return 3;  // U+2000–200A, 2028/9, 202F
  }
  if (c0 == 0xe2 && b(i + 1) == 0x81 && b(i + 2) == 0x9f) return 3;  // U+205F
  if (c0 == 0xe3 && b(i + 1) == 0x80 && b(i + 2) == 0x80) return 3;  // U+3000
  return 0;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// lark's common.SIGNED_NUMBER matching all of s[a, b): [+-]? (INT exp | (INT '.' INT? | '.' INT) exp? | INT)
bool is_signed_number(const std::string& s, size_t a, size_t b) {
  size_t i = a;
  if (i < b && (s[i] == '+' || s[i] == '-')) ++i;
  const size_t int_from = i;
  while (i < b && is_digit(s[i])) ++i;
  const bool int_part = i > int_from;
  bool frac = false;
  if (i < b && s[i] == '.') {
    ++i;
    const size_t frac_from = i;
    while (i < b && is_digit(s[i])) ++i;
    frac = i > frac_from;
    if (!int_part && !frac) return false;
  } else if (!int_part) {
    return false;
  }
  if (i < b && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < b && (s[i] == '+' || s[i] == '-')) ++i;
    const size_t exp_from = i;
    while (i < b && is_digit(s[i])) ++i;
    if (i == exp_from) return false;
  }
  return i == b;
}

// [WHITESPACE] NUMBER [WHITESPACE] over s[a, b): the NUMBER's range, or {0, 0}
std::pair<size_t, size_t> number_in(const std::string& s, size_t a, size_t b) {
  while (a < b) {
    const size_t k = space_at(s, a);
    if (k == 0) break;
    a += k;
  }
  size_t e = a;
  while (e < b && space_at(s, e) == 0) ++e;
  for (size_t t = e; t < b;) {  // the rest must be whitespace only
    const size_t k = space_at(s, t);
    if (k == 0) return {0, 0};
    t += k;
  }
  if (e == a || !is_signed_number(s, a, e)) return {0, 0};
  return {a, e};
}

// Python float() of a SIGNED_NUMBER text; underflow gives 0 (as Python), overflow gives ±inf.
double python_float(const std::string& t) {
  std::string body = t;
  bool neg = false;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    neg = body[0] == '-';
    body.erase(0, 1);
  }
  double v = 0.0;
  const auto [ptr, ec] = std::from_chars(body.data(), body.data() + body.size(), v, std::chars_format::general);
  if (ec == std::errc::result_out_of_range) {
    // decimal exponent of the leading significant digit decides overflow vs underflow
    long long exp10 = 0;
    const size_t epos = body.find_first_of("eE");
    if (epos != std::string::npos) {
      const std::string e = body.substr(epos + 1);
      const bool eneg = !e.empty() && e[0] == '-';
      const size_t from = (!e.empty() && (e[0] == '+' || e[0] == '-')) ? 1 : 0;
      long long mag = 0;
      for (size_t k = from; k < e.size(); ++k) mag = std::min<long long>(mag * 10 + (e[k] - '0'), 1LL << 40);
      exp10 = eneg ? -mag : mag;
    }
    const std::string mant = body.substr(0, epos);
    const size_t dot = std::min(mant.find('.'), mant.size());
    const size_t first = mant.find_first_not_of("0.");
    if (first == std::string::npos) {
      v = 0.0;
    } else {
      const long long lead = first < dot ? static_cast<long long>(dot - first - 1) : -static_cast<long long>(first - dot);
      v = exp10 + lead > 0 ? HUGE_VAL : 0.0;
    }
  } else if (ec != std::errc() || ptr != body.data() + body.size()) {
    fail("prompt: scheduling step '{}' is not a number", t);  // unreachable after is_signed_number
  }
  return neg ? -v : v;
}

class Parser {
 public:
  explicit Parser(const std::string& s) : s_(s), memo_(s.size(), kUnknown) {}

  /// Parse the whole prompt; false where lark would raise (the prompt is then used verbatim).
  bool parse() {
    const size_t n = s_.size();
    for (size_t i = 0; i < n; ++i)  // escapes pair left to right everywhere; '\' needs a non-line-feed after it
      if (s_[i] == '\\') {
        if (i + 1 >= n || s_[i + 1] == '\n') return false;
        ++i;
      }
    size_t i = 0;
    while (i < n) {
      const char c = s_[i];
      if (c == '\\') {
        i += 2;
      } else if (c == '[' || c == '(') {
        const int32_t m = construct_at(i);
        if (m >= 0) {
          top_.push_back(static_cast<uint32_t>(m));
          i = nodes_[m].end;
        } else {
          ++i;  // a literal bracket
        }
      } else if (c == '|') {
        return false;
      } else {
        ++i;
      }
    }
    return true;
  }

  const std::vector<Construct>& nodes() const { return nodes_; }
  std::vector<Construct>& nodes() { return nodes_; }
  const std::vector<uint32_t>& top() const { return top_; }

  /// Every construct of the parse (top-level ones and everything nested in them).
  std::vector<uint32_t> all() const {
    std::vector<uint32_t> out, stack(top_.rbegin(), top_.rend());
    while (!stack.empty()) {
      const uint32_t k = stack.back();
      stack.pop_back();
      out.push_back(k);
      const auto& ch = nodes_[k].children;
      stack.insert(stack.end(), ch.rbegin(), ch.rend());
    }
    return out;
  }

  /// The text of the parse with each scheduled / alternate construct replaced by its part at `step`.
  std::string render(long long step) const {
    struct Frame {
      size_t pos, end;
      const std::vector<uint32_t>* kids;
      size_t k;
    };
    std::string out;
    out.reserve(s_.size());
    std::vector<Frame> stack{{0, s_.size(), &top_, 0}};
    auto push_range = [&](size_t a, size_t b, const Construct& c) {
      const auto& kids = c.children;
      const size_t k = static_cast<size_t>(
          std::lower_bound(kids.begin(), kids.end(), a, [&](uint32_t x, size_t p) { return nodes_[x].begin < p; }) -
          kids.begin());
      stack.push_back({a, b, &kids, k});
    };
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (f.k < f.kids->size() && nodes_[(*f.kids)[f.k]].begin < f.end) {
        const Construct& c = nodes_[(*f.kids)[f.k++]];
        out.append(s_, f.pos, c.begin - f.pos);
        f.pos = c.end;
        if (c.kind == Kind::Emphasis) {
          push_range(c.begin, c.end, c);
        } else if (c.kind == Kind::Scheduled) {
          if (step <= c.when) {
            if (c.seps.size() == 2) push_range(c.begin + 1, c.seps[0], c);  // [from:to:when] → from
          } else {
            const size_t a = c.seps.size() == 2 ? c.seps[0] + 1 : c.begin + 1;
            push_range(a, c.seps.size() == 2 ? c.seps[1] : c.seps[0], c);
          }
        } else {
          const size_t options = c.seps.size() + 1;
          const size_t k = static_cast<size_t>((step - 1) % static_cast<long long>(options));
          const size_t a = k == 0 ? c.begin + 1 : c.seps[k - 1] + 1;
          const size_t b = k == c.seps.size() ? c.end - 1 : c.seps[k];
          push_range(a, b, c);
        }
      } else {
        out.append(s_, f.pos, f.end - f.pos);
        stack.pop_back();
      }
    }
    return out;
  }

 private:
  struct Frame {
    size_t begin, i;
    std::vector<size_t> seps;
    std::vector<uint32_t> children;
  };

  // The construct starting at bracket p: its index, or kInvalid. Iterative with an explicit stack.
  int32_t construct_at(size_t p) {
    if (memo_[p] != kUnknown) return memo_[p];
    const size_t n = s_.size();
    std::vector<Frame> st;
    st.push_back({p, p + 1, {}, {}});
    auto fail_all = [&] {
      for (const Frame& f : st) memo_[f.begin] = kInvalid;
      return kInvalid;
    };
    while (true) {
      Frame& f = st.back();
      if (f.i >= n) return fail_all();  // unclosed
      const char c = s_[f.i];
      if (c == '\\') {
        f.i += 2;
      } else if (c == '[' || c == '(') {
        const int32_t m = memo_[f.i];
        if (m == kInvalid) return fail_all();
        if (m == kUnknown) {
          const size_t q = f.i;
          st.push_back({q, q + 1, {}, {}});  // f is invalidated here
        } else {
          f.children.push_back(static_cast<uint32_t>(m));
          f.i = nodes_[m].end;
        }
      } else if (c == ':' || c == '|') {
        f.seps.push_back(f.i++);
      } else if (c == ']' || c == ')') {
        Construct k;
        if (!classify(f, c, k)) return fail_all();
        const auto idx = static_cast<int32_t>(nodes_.size());
        memo_[f.begin] = idx;
        nodes_.push_back(std::move(k));
        st.pop_back();
        if (st.empty()) return idx;
        st.back().children.push_back(static_cast<uint32_t>(idx));
        st.back().i = nodes_[idx].end;
      } else {
        ++f.i;
      }
    }
  }

  // The frame closed by `closer` at f.i: which construct it is (see prompt_schedule.h), or false.
  bool classify(Frame& f, char closer, Construct& k) const {
    const char opener = s_[f.begin];
    bool colons = true, bars = true;
    for (size_t q : f.seps) (s_[q] == ':' ? bars : colons) = false;
    if (opener == '(') {
      if (closer != ')' || !colons || f.seps.size() > 1) return false;
      k.kind = Kind::Emphasis;
    } else {
      if (closer != ']') return false;
      if (f.seps.empty()) {
        k.kind = Kind::Emphasis;
      } else if (bars) {
        k.kind = Kind::Alternate;
      } else if (colons && f.seps.size() <= 2 && number_in(s_, f.seps.back() + 1, f.i).second != 0) {
        k.kind = Kind::Scheduled;
      } else {
        return false;
      }
    }
    k.begin = f.begin;
    k.end = f.i + 1;
    k.seps = std::move(f.seps);
    k.children = std::move(f.children);
    return true;
  }

  const std::string& s_;
  std::vector<int32_t> memo_;  ///< per position: kUnknown, kInvalid or the construct starting there
  std::vector<Construct> nodes_;
  std::vector<uint32_t> top_;
};

}  // namespace

size_t PromptSchedule::text_at(long long step) const {
  for (const Entry& e : entries)
    if (step <= e.end_step) return e.text;
  return entries.empty() ? 0 : entries.front().text;
}

std::vector<std::pair<int, std::string>> PromptSchedule::pairs() const {
  std::vector<std::pair<int, std::string>> out;
  for (const Entry& e : entries) out.emplace_back(e.end_step, texts[e.text]);
  return out;
}

PromptSchedule prompt_schedule(const std::string& prompt, int base_steps, int hires_steps, bool use_old_scheduling) {
  if (base_steps < 1) fail("prompt schedule: steps {} (expected ≥ 1)", base_steps);
  if (hires_steps < 0) fail("prompt schedule: hires steps {} (expected ≥ 0)", hires_steps);
  const bool hires = hires_steps > 0 && !use_old_scheduling;
  const int steps = hires ? hires_steps : base_steps;
  const double int_offset = hires ? base_steps : 0.0, flt_offset = hires ? 1.0 : 0.0;

  PromptSchedule out;
  Parser parser(prompt);
  if (!parser.parse()) {
    out.texts = {prompt};
    out.entries = {{steps, 0}};
    return out;
  }
  // collect_steps: resolve every scheduled construct's `when`; alternation adds every step
  std::set<int> ends{steps};
  bool alternate = false;
  for (uint32_t k : parser.all()) {
    Construct& c = parser.nodes()[k];
    if (c.kind == Kind::Alternate) alternate = true;
    if (c.kind != Kind::Scheduled) continue;
    const auto [a, b] = number_in(prompt, c.seps.back() + 1, c.end - 1);
    const std::string text = prompt.substr(a, b - a);
    double v = python_float(text);
    if (use_old_scheduling) v = v < 1.0 ? v * steps : v;
    else if (text.find('.') != std::string::npos) v = (v - flt_offset) * steps;
    else v = v - int_offset;
    if (!std::isfinite(v)) fail("prompt: scheduling step '{}' is not finite (in '{}')", text, prompt.substr(c.begin, 80));
    v = std::trunc(v);  // Python int(): toward zero; then min(steps, ·)
    c.when = v >= steps ? steps : (v < -4.0e18 ? -4000000000000000000LL : static_cast<long long>(v));
    if (c.when >= 1) ends.insert(static_cast<int>(c.when));
  }
  if (alternate)
    for (int t = 1; t <= steps; ++t) ends.insert(t);

  std::unordered_map<std::string, size_t> index;
  for (int t : ends) {
    std::string text = parser.render(t);
    auto [it, added] = index.emplace(std::move(text), out.texts.size());
    if (added) out.texts.push_back(it->first);
    out.entries.push_back({t, it->second});
  }
  return out;
}

}  // namespace ls::text
