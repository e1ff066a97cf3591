// The top-level help footer and one-line parse errors of the `lorastack` command. CLI11's own messages ("The
// following argument was not expected: …", "--steps: Value x not in range 1 to 1000", "Could not convert: …")
// are rewritten into lorastack's: the command, the option and the value, what is expected, and the --help to read.
#include <algorithm>
#include <regex>
#include <string>
#include <vector>

#include "toolbox_commands.h"

namespace {

// The deepest subcommand the parser entered ("lorastack lora merge").
const CLI::App* deepest(const CLI::App* app, std::string& path) {
  path = app->get_name();
  for (;;) {
    auto subs = app->get_subcommands();  // the parsed ones
    if (subs.empty()) return app;
    app = subs.front();
    path += " " + app->get_name();
  }
}

std::vector<std::string> command_names(const CLI::App* app) {
  std::vector<std::string> v;
  for (const CLI::App* sub : app->get_subcommands([](const CLI::App*) { return true; }))
    if (!sub->get_name().empty()) v.push_back(sub->get_name());
  return v;
}

std::string join(const std::vector<std::string>& v, const std::string& sep = ", ") {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The option names of `app` ("--steps", "-n"), and its closest one to `given` when it is close ("" otherwise).
std::string closest_option(const CLI::App* app, const std::string& given) {
  std::string best;
  size_t best_d = std::string::npos;
  for (const CLI::Option* o : app->get_options()) {
    std::vector<std::string> names;
    for (const auto& l : o->get_lnames()) names.push_back("--" + l);
    for (const auto& s : o->get_snames()) names.push_back("-" + s);
    for (const auto& n : names) {
      const size_t d = edit_distance(given, n);
      if (d < best_d) best_d = d, best = n;
    }
  }
  return best_d <= std::max<size_t>(2, given.size() / 4) ? best : "";
}

// "a whole number" / "a number" for the option `name` of `app`, from its CLI11 type name (INT, UINT, FLOAT).
std::string number_kind(const CLI::App* app, const std::string& name) {
  const CLI::Option* o = app->get_option_no_throw(name);
  const std::string t = o ? o->get_type_name() : "";
  return t.rfind("INT", 0) == 0 || t.rfind("UINT", 0) == 0 ? "a whole number" : "a number";
}

// "1.000000" → "1" (CLI11 writes double range ends with std::to_string).
std::string trim_number(std::string s) {
  if (s.find('.') == std::string::npos) return s;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

bool is_number(const std::string& s) {
  if (s.empty()) return false;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end && *end == '\0';
}

// Arguments the parser did not take: "unknown option" (with the closest real one) or "unexpected argument".
std::string extras_message(const CLI::App* at, const std::vector<std::string>& extras) {
  std::vector<std::string> parts, loose;
  bool after_unknown_option = false;
  for (const std::string& x : extras) {
    const bool option = x.size() > 1 && x[0] == '-' && !is_number(x);
    if (option) {
      const std::string name = x.substr(0, x.find('='));  // --opt=value
      const std::string near = closest_option(at, name);
      parts.push_back("unknown option '" + name + "'" + (near.empty() ? "" : " (did you mean " + near + "?)"));
    } else if (!command_names(at).empty()) {
      parts.push_back("unknown command '" + x + "'; commands: " + join(command_names(at)));
    } else if (!after_unknown_option) {  // (a word right after an unknown option is its value)
      loose.push_back("'" + x + "'");
    }
    after_unknown_option = option && x.find('=') == std::string::npos;
  }
  if (!loose.empty()) {
    const bool prompt = at->get_option_no_throw("--prompt") != nullptr;
    parts.push_back("unexpected argument" + std::string(loose.size() > 1 ? "s " : " ") + join(loose, " ") +
                    (prompt ? "; quote a value that has spaces, e.g. -p \"a red fox\"" : ""));
  }
  return join(parts, "; ");
}

// lorastack's one-line message for a CLI11 parse error raised in `at` (the raw text when no rule fits).
std::string rewrite(const CLI::App* at, const CLI::Error& e) {
  const std::string raw = e.what();
  std::smatch m;
  if (dynamic_cast<const CLI::ExtrasError*>(&e)) {  // (its get_name() is the app's name, not the error's)
    std::vector<std::string> extras = at->remaining();
    if (extras.empty()) {  // from the message: "…not expected: b a" (CLI11 lists them last first)
      std::string list = raw.substr(raw.find(": ") == std::string::npos ? raw.size() : raw.find(": ") + 2);
      for (size_t a = 0; a < list.size();) {
        size_t b = list.find(' ', a);
        if (b == std::string::npos) b = list.size();
        if (b > a) extras.insert(extras.begin(), list.substr(a, b - a));
        a = b + 1;
      }
    }
    if (!extras.empty()) return extras_message(at, extras);
  }
  if (raw == "A subcommand is required" ||
      (dynamic_cast<const CLI::RequiredError*>(&e) && raw.rfind("Requires at least", 0) == 0)) {
    const std::vector<std::string> left = at->remaining();
    if (!left.empty()) return extras_message(at, left);
    return "give a command: " + join(command_names(at));
  }
  // a missing required option next to words the parser did not take: a mistyped option is the likelier
  // cause ("--modle x" leaves --model missing), so name those first
  if (dynamic_cast<const CLI::RequiredError*>(&e)) {
    const std::vector<std::string> left = at->remaining();
    if (!left.empty()) return extras_message(at, left) + "; and " + raw;
  }
  static const std::regex range(R"(^(\S+): Value (.*) not in range (\S+) to (\S+)$)");
  static const std::regex member(R"(^(\S+): (.*) not in \{(.*)\}$)");
  static const std::regex convert(R"(^Could not convert: (\S+) = (.*)$)");
  static const std::regex missing(R"(^(\S+): \d+ required .* missing$)");
  static const std::regex at_most(R"(^(\S+): At Most (\d+) required but received (\d+)$)");
  if (std::regex_match(raw, m, range)) {
    const std::string name = m[1], value = m[2], lo = trim_number(m[3]), hi = trim_number(m[4]);
    const std::string kind_of = number_kind(at, name);
    if (!is_number(value)) return name + " '" + value + "': not " + kind_of + "; give one in " + lo + ".." + hi;
    return name + " " + value + ": out of range; give " + kind_of + " in " + lo + ".." + hi;
  }
  if (std::regex_match(raw, m, member)) {
    std::string choices = m[3];
    std::replace(choices.begin(), choices.end(), ',', '|');
    return std::string(m[1]) + " '" + std::string(m[2]) + "': not a choice; give one of " + choices;
  }
  if (std::regex_match(raw, m, convert)) {
    const std::string name = m[1];
    return name + " '" + std::string(m[2]) + "': not " + number_kind(at, name);
  }
  if (std::regex_match(raw, m, missing)) return std::string(m[1]) + " needs a value after it";
  if (std::regex_match(raw, m, at_most))
    return std::string(m[1]) + " given " + std::string(m[3]) + " times; give it once";
  return raw;
}

}  // namespace

void setup_app_help(CLI::App& app) {
  app.name("lorastack");
  app.footer(
      "Examples:\n"
      "  lorastack generate -m sd15.safetensors -p \"a photo of a cat\" --seed 42 -o cat.png\n"
      "  lorastack generate -m sd15.safetensors -p \"a castle <lora:ink:0.8>\" --lora-dir loras/ -o castle.webp\n"
      "  lorastack lora inspect style.safetensors\n"
      "  lorastack models list ~/models\n"
      "Run 'lorastack COMMAND --help' for a command's options and examples.");
  app.failure_message([](const CLI::App* top, const CLI::Error& e) {
    std::string path;
    const CLI::App* at = deepest(top, path);
    std::string msg = rewrite(at, e);
    for (char& c : msg)
      if (c == '\n') c = ' ';
    return path + ": error: " + msg + " (see '" + path + " --help')\n";
  });
}
