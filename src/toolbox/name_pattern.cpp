#include "toolbox/name_pattern.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "runtime/error.h"

namespace ls::toolbox {

namespace {

const std::map<std::string, std::string>& a1111_aliases() {
  static const std::map<std::string, std::string> m = {
      {"seed", "seed"},         {"prompt", "prompt"},         {"prompt_spaces", "prompt"},
      {"prompt_no_styles", "prompt"}, {"negative_prompt", "negative"}, {"steps", "steps"},
      {"cfg", "cfg"},           {"sampler", "sampler"},       {"scheduler", "scheduler"},
      {"model_name", "model"},  {"width", "width"},           {"height", "height"},
      {"date", "date"},         {"datetime", "datetime"},     {"batch_number", "pos"},
      {"generation_number", "n"}};
  return m;
}

bool numeric_field(const std::string& f) {
  return f == "seed" || f == "n" || f == "batch" || f == "pos" || f == "steps" || f == "width" || f == "height";
}

bool is_field(const std::string& f) {
  const auto& all = NamePattern::fields();
  return std::find(all.begin(), all.end(), f) != all.end();
}

// File-name safe text; `width` > 0 keeps that many code points.
std::string sanitize(const std::string& v, int width) {
  std::string o;
  int count = 0;
  for (size_t i = 0; i < v.size();) {
    const auto c = static_cast<unsigned char>(v[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + len > v.size()) len = 1;
    if (width > 0 && count >= width) break;
    if (len == 1) {
      if (c < 0x20 || c == 0x7f || std::string_view("/\\<>:\"|?*").find(static_cast<char>(c)) != std::string_view::npos) {
        i += 1;
        continue;
      }
      if (c >= 0x80) {  // a stray continuation byte
        i += 1;
        continue;
      }
      o += std::isspace(c) ? '_' : static_cast<char>(c);
    } else {
      o += v.substr(i, len);
    }
    i += len;
    ++count;
  }
  while (!o.empty() && o.front() == '.') o.erase(o.begin());
  while (!o.empty() && o.back() == '_') o.pop_back();
  return o;
}

}  // namespace

const std::vector<std::string>& NamePattern::fields() {
  static const std::vector<std::string> f = {"seed",    "n",         "batch", "pos",   "prompt", "negative", "steps",
                                             "cfg",     "sampler",   "scheduler", "width", "height", "model",
                                             "lora",    "date",      "time",  "datetime"};
  return f;
}

NamePattern::NamePattern(std::string pattern) : pattern_(std::move(pattern)) {
  const std::string& p = pattern_;
  if (p.empty()) fail("output pattern is empty; give a file name such as out/{{seed}}.png");
  std::string lit;
  auto flush = [&] {
    if (!lit.empty()) pieces_.push_back({lit, "", 0});
    lit.clear();
  };
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if ((c == '{' || c == '}') && i + 1 < p.size() && p[i + 1] == c) {
      lit += c;
      ++i;
      continue;
    }
    if (c == '[') {
      size_t close = p.find(']', i);
      if (close != std::string::npos) {
        std::string name = p.substr(i + 1, close - i - 1);
        auto it = a1111_aliases().find(name);
        if (it != a1111_aliases().end()) {
          flush();
          pieces_.push_back({"", it->second, 0});
          i = close;
          continue;
        }
      }
      lit += c;
      continue;
    }
    if (c == '}') fail("output pattern '{}': '}}' without '{{' (write }}}} for a literal brace)", p);
    if (c != '{') {
      lit += c;
      continue;
    }
    size_t close = p.find('}', i);
    if (close == std::string::npos) fail("output pattern '{}': '{{' is not closed (write {{{{ for a literal brace)", p);
    std::string body = p.substr(i + 1, close - i - 1);
    std::string name = body;
    int width = 0;
    if (size_t colon = body.find(':'); colon != std::string::npos) {
      name = body.substr(0, colon);
      std::string w = body.substr(colon + 1);
      if (w.empty() || w.size() > 3 || w.find_first_not_of("0123456789") != std::string::npos || std::stoi(w) < 1 ||
          std::stoi(w) > 200)
        fail("output pattern '{}': width '{}' of {{{}}} is not a number 1..200", p, w, name);
      width = std::stoi(w);
    }
    if (!is_field(name))
      fail("output pattern '{}': unknown field {{{}}}; fields: {}", p, name, fmt::join(fields(), ", "));
    flush();
    pieces_.push_back({"", name, width});
    i = close;
  }
  flush();
  for (const Piece& pc : pieces_)
    if (pc.field == "n" || pc.field == "seed" || pc.field == "pos" || pc.field == "batch") per_image_ = true;
}

std::string NamePattern::render(const std::map<std::string, std::string>& values) const {
  std::string out;
  for (const Piece& pc : pieces_) {
    if (pc.field.empty()) {
      out += pc.literal;
      continue;
    }
    auto it = values.find(pc.field);
    std::string v = it == values.end() ? std::string() : it->second;
    if (numeric_field(pc.field) && pc.width > 0) {
      std::string digits = sanitize(v, 0);
      if (digits.size() < static_cast<size_t>(pc.width)) digits.insert(0, pc.width - digits.size(), '0');
      out += digits;
    } else {
      out += sanitize(v, numeric_field(pc.field) ? 0 : pc.width);
    }
  }
  return out;
}

std::string image_format_of(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == ".png") return "png";
  if (ext == ".jpg" || ext == ".jpeg") return "jpeg";
  if (ext == ".webp") return "webp";
  fail("{}: unsupported image format '{}'; name the output .png, .jpg / .jpeg or .webp", path,
       ext.empty() ? std::string("(no extension)") : ext);
}

std::string with_index_suffix(const std::string& path, int64_t n) {
  std::filesystem::path p(path);
  std::string ext = p.extension().string();
  std::string stem = path.substr(0, path.size() - ext.size());
  return stem + "-" + std::to_string(n) + ext;
}

}  // namespace ls::toolbox
