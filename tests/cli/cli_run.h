// Shared by the `lorastack` command tests (test_cli.cpp, test_cli_ux.cpp): the built binary (LS_CLI_PATH) run in
// a shell with its stdout / stderr captured, the tiny refsuite model and adapters, and small file helpers.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "image/image.h"

namespace cli_test {

const std::string kRef = std::string(LS_SHARED_DIR) + "/refsuite/";
const std::string kModel = kRef + "model/tiny-sd1";  // diffusers folder with its tokenizer
const std::string kAdapters = kRef + "adapters";
const std::string kLora = kAdapters + "/lora_a/lora_a_kohya.safetensors";
// small and quick: 64×64 (the tiny UNet's size multiple), 3 steps
const std::string kGen = " generate -m " + kModel + " -W 64 -H 64 --steps 3 -q";

struct Result {
  int rc;
  std::string out, err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

inline std::string dir_for(const std::string& name) {
  std::string d = ::testing::TempDir() + "/cli-" + name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

inline Result run(const std::string& args, const std::string& env = "") {
  // one pair of files per process: ctest runs the tests of this binary in parallel processes
  const std::string tag = std::to_string(getpid());
  const std::string o = ::testing::TempDir() + "/cli-stdout-" + tag + ".txt",
                    e = ::testing::TempDir() + "/cli-stderr-" + tag + ".txt";
  std::string cmd = env + (env.empty() ? "" : " ") + std::string(LS_CLI_PATH) + " " + args + " > " + o + " 2> " + e;
  int rc = std::system(cmd.c_str());
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, slurp(o), slurp(e)};
}

inline std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> v;
  size_t a = 0;
  for (size_t b; (b = s.find('\n', a)) != std::string::npos; a = b + 1) v.push_back(s.substr(a, b - a));
  if (a < s.size()) v.push_back(s.substr(a));
  return v;
}

inline std::string parameters_of(const std::string& path) {
  std::map<std::string, std::string> text;
  ls::image::read_image(path, &text);
  return text["parameters"];
}

}  // namespace cli_test
