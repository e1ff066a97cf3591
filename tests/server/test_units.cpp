// Pieces of the server without HTTP: sampler names as clients spell them, base64, the LoRA folder's name
// resolution (stems, relative paths, collisions, files added later).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include <unistd.h>

#include "server/api_error.h"
#include "server/base64.h"
#include "server/lora_library.h"
#include "server/samplers.h"

namespace ls::server {
namespace {

namespace fs = std::filesystem;

/// The ApiError `f()` throws (status 0 when none).
template <typename F>
ApiError api_error_of(F&& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return e;
  }
  return ApiError(0, "", "");
}

TEST(Samplers, A1111AndLorastackNames) {
  struct Case {
    const char* name;
    const char* scheduler;
    const char* sampler_out;
    const char* scheduler_out;
  };
  for (const Case& c : {Case{"Euler", "", "euler", "normal"}, Case{"Euler a", "", "euler_a", "normal"},
                        Case{"euler_a", "", "euler_a", "normal"}, Case{"DPM++ 2M", "", "dpm++2m", "normal"},
                        Case{"DPM++ 2M Karras", "", "dpm++2m", "karras"}, Case{"dpm++2m", "Karras", "dpm++2m", "karras"},
                        Case{"DPM++ 2M", "Automatic", "dpm++2m", "normal"}, Case{"k_dpmpp_2m", "", "dpm++2m", "normal"},
                        Case{"k_euler_a", "", "euler_a", "normal"}, Case{"DDIM", "", "ddim", "normal"},
                        Case{"ddim", "trailing", "ddim", "trailing"}, Case{"", "", "euler", "normal"}}) {
    auto got = parse_sampler(c.name, c.scheduler, "sampler", "scheduler");
    EXPECT_EQ(got.sampler, c.sampler_out) << c.name;
    EXPECT_EQ(got.scheduler, c.scheduler_out) << c.name;
  }
  EXPECT_EQ(a1111_name({"dpm++2m", "karras"}), "DPM++ 2M Karras");
  EXPECT_EQ(a1111_name({"euler_a", "normal"}), "Euler a");
}

TEST(Samplers, UnknownAndContradictoryNamesAre422) {
  auto e1 = api_error_of([] { parse_sampler("NoSuchSampler", "", "sampler_name", "scheduler"); });
  EXPECT_EQ(e1.status(), 422);
  EXPECT_EQ(e1.field(), "sampler_name");
  EXPECT_NE(std::string(e1.what()).find("\"DPM++ 2M Karras\""), std::string::npos) << e1.what();
  auto e2 = api_error_of([] { parse_sampler("NoSuch Karras", "", "sampler", "scheduler"); });
  EXPECT_EQ(e2.status(), 422);
  EXPECT_EQ(e2.field(), "sampler");
  auto e3 = api_error_of([] { parse_sampler("DPM++ 2M Karras", "trailing", "sampler", "scheduler"); });
  EXPECT_EQ(e3.field(), "scheduler");
  EXPECT_NE(std::string(e3.what()).find("contradicts"), std::string::npos);
  EXPECT_EQ(api_error_of([] { parse_sampler("Euler", "bogus_schedule", "s", "scheduler"); }).status(), 422);
}

TEST(Base64, RoundTripAndErrors) {
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\0\xff\x10", 3)})
    EXPECT_EQ(base64_decode(base64_encode(s), "x"), s);
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_decode("data:image/png;base64,Zm9v", "x"), "foo");
  EXPECT_EQ(base64_decode("Zm9v\nYmFy", "x"), "foobar");
  EXPECT_EQ(api_error_of([] { base64_decode("Zm9v*", "init_images[0]"); }).field(), "init_images[0]");
}

class LoraFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("lorastack-test-lorafolder-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "a");
    fs::create_directories(root_ / "b");
    touch("a/style.safetensors");
    touch("b/style.safetensors");
    touch("unique.safetensors");
    touch("both.ckpt");
    touch("both.safetensors");
    touch("notes.txt");
  }
  void TearDown() override { fs::remove_all(root_); }
  void touch(const std::string& rel) {
    // a valid, empty safetensors header: 8-byte length + "{}"
    std::ofstream f(root_ / rel, std::ios::binary);
    const char header[] = {2, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    f.write(header, sizeof header);
  }
  fs::path root_;
};

TEST_F(LoraFolder, NamesPathsAndCollisions) {
  LoraLibrary lib(root_.string());
  auto list = lib.list();
  std::vector<std::string> names;
  for (auto& l : list) names.push_back(l.entry.name);
  // colliding stems are named by their relative path; .txt is not an adapter
  EXPECT_EQ(names, (std::vector<std::string>{"a/style", "b/style", "both", "both", "unique"}));
  EXPECT_EQ(lib.resolve("unique", "f").rel_path, "unique.safetensors");
  EXPECT_EQ(lib.resolve("a/style", "f").rel_path, "a/style.safetensors");
  EXPECT_EQ(lib.resolve("b/style.safetensors", "f").rel_path, "b/style.safetensors");
  EXPECT_EQ(lib.resolve("both", "f").rel_path, "both.safetensors");  // .safetensors preferred
  EXPECT_EQ(lib.resolve("both.ckpt", "f").rel_path, "both.ckpt");
  EXPECT_EQ(lib.resolve("./a//style", "f").rel_path, "a/style.safetensors");
  auto ambiguous = api_error_of([&] { lib.resolve("style", "loras[0].name"); });
  EXPECT_EQ(ambiguous.status(), 422);
  EXPECT_NE(std::string(ambiguous.what()).find("matches 2 files"), std::string::npos) << ambiguous.what();
  EXPECT_EQ(api_error_of([&] { lib.resolve("notes.txt", "f"); }).status(), 422);
  EXPECT_EQ(api_error_of([&] { lib.resolve("a", "f"); }).status(), 422);
  // added later: found on the rescan a miss triggers
  touch("later.safetensors");
  EXPECT_EQ(lib.resolve("later", "f").rel_path, "later.safetensors");
  EXPECT_EQ(lib.resolve("unique", "f").path, fs::canonical(root_ / "unique.safetensors").string());
}

TEST_F(LoraFolder, AliasesResolveAfterNames) {
  // A1111 takes the alias /sdapi/v1/loras lists (ss_output_name) in <lora:ALIAS:w> too
  auto with_alias = [&](const std::string& rel, const std::string& alias) {
    const std::string header = "{\"__metadata__\":{\"ss_output_name\":\"" + alias + "\"}}";
    std::ofstream f(root_ / rel, std::ios::binary);
    const uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) f.put(static_cast<char>((n >> (8 * i)) & 0xff));
    f << header;
  };
  with_alias("first.safetensors", "my style v2");
  with_alias("a/twin1.safetensors", "twins");
  with_alias("b/twin2.safetensors", "twins");
  with_alias("shadow.safetensors", "unique");  // an alias equal to another file's name: the name wins
  LoraLibrary lib(root_.string());
  std::map<std::string, std::string> alias_of;
  for (auto& l : lib.list()) alias_of[l.entry.name] = l.alias;
  EXPECT_EQ(alias_of["first"], "my style v2");
  EXPECT_EQ(lib.resolve("my style v2", "prompt").rel_path, "first.safetensors");
  EXPECT_EQ(lib.resolve("first", "prompt").rel_path, "first.safetensors");
  EXPECT_EQ(lib.resolve("unique", "prompt").rel_path, "unique.safetensors");
  EXPECT_EQ(lib.resolve("shadow", "prompt").rel_path, "shadow.safetensors");
  auto twins = api_error_of([&] { lib.resolve("twins", "prompt"); });
  EXPECT_EQ(twins.status(), 422);
  EXPECT_NE(std::string(twins.what()).find("matches 2 files"), std::string::npos) << twins.what();
  EXPECT_EQ(api_error_of([&] { lib.resolve("my style v3", "prompt"); }).status(), 422);
}

TEST_F(LoraFolder, WithoutFolderEveryLoraIs422) {
  LoraLibrary none("");
  EXPECT_FALSE(none.enabled());
  EXPECT_TRUE(none.list().empty());
  auto e = api_error_of([&] { none.resolve("x", "prompt"); });
  EXPECT_EQ(e.status(), 422);
  EXPECT_NE(std::string(e.what()).find("--lora-dir"), std::string::npos);
  EXPECT_THROW(LoraLibrary((root_ / "unique.safetensors").string()), std::runtime_error);
}

}  // namespace
}  // namespace ls::server
