// What a first-time user of `lorastack` meets: --version, serve --help, one-line parse errors in lorastack's words,
// the --lora adapters and the model hash in the saved A1111 parameters, and train --resume errors that say what
// to do next.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli_run.h"
#include "image/image.h"

namespace {

using namespace cli_test;

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(Cli, VersionNamesVersionCommitAndCuda) {
  Result flag = run("--version"), sub = run("version");
  ASSERT_EQ(flag.rc, 0) << flag.err;
  ASSERT_EQ(sub.rc, 0) << sub.err;
  EXPECT_EQ(flag.out, sub.out);
  const auto l = lines(flag.out);
  ASSERT_EQ(l.size(), 3u) << flag.out;
  EXPECT_EQ(l[0], std::string("lorastack ") + LS_PROJECT_VERSION);  // CMake's project() version
  EXPECT_EQ(l[1].rfind("git commit: ", 0), 0u) << l[1];
  EXPECT_EQ(l[2].rfind("CUDA: ", 0), 0u) << l[2];
  EXPECT_TRUE(has(l[2], "not compiled in") || has(l[2], "compiled in (with")) << l[2];
  EXPECT_TRUE(has(run("--help").out, "--version"));
}

TEST(Cli, ServeHelpListsDefaultsAndExamples) {
  Result r = run("serve --help");
  ASSERT_EQ(r.rc, 0) << r.err;
  for (const char* part : {"Examples:", "(default 7860;", "(default 127.0.0.1:", "(default 16)", "(default 100)",
                           "(default cpu)", "(default auto)", "default fp32)", "/sdapi/v1/txt2img", "--lora-dir"})
    EXPECT_TRUE(has(r.out, part)) << part << "\n" << r.out;
}

TEST(Cli, ParseErrorsAreOneLineInLorastacksWords) {
  const std::string m = kGen + " -p x";
  const std::string see = "(see 'lorastack generate --help')";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {m + " --bogus", "unknown option '--bogus' " + see},
      {m + " --stpes 5", "unknown option '--stpes' (did you mean --steps?) " + see},
      // a mistyped required option: the typo first, then what is missing
      {" generate --modle x -p a", "unknown option '--modle' (did you mean --model?); and --model is required " + see},
      {kGen + " -p a red fox", "unexpected arguments 'red' 'fox'; quote a value that has spaces"},
      {m + " --steps x", "--steps 'x': not a whole number; give one in 1..1000 " + see},
      {m + " --steps=0", "--steps 0: out of range; give a whole number in 1..1000 " + see},
      {m + " --cfg-scale abc", "--cfg-scale 'abc': not a number " + see},
      {m + " --strength 2", "--strength 2: out of range; give a number in 0..1"},
      {m + " --lora-mode bad", "--lora-mode 'bad': not a choice; give one of fuse|runtime|auto"},
      {m + " --steps", "--steps needs a value after it " + see},
      {m + " --steps 4 --steps 5", "--steps given 3 times; give it once"},  // (kGen has one)
      {m + " --seed -1", "--seed: '-1' is negative; give a seed from 0"},
      {"bogus", "lorastack: error: unknown command 'bogus'; commands: generate, model, lora"},
      {"lora bogus", "lorastack lora: error: unknown command 'bogus'; commands: inspect, convert"},
      {"serve -m " + kModel + " --port 99999",
       "lorastack serve: error: --port 99999: out of range; give a whole number in 0..65535 (see 'lorastack serve "
       "--help')"},
  };
  for (const auto& [args, want] : cases) {
    Result r = run(args);
    EXPECT_NE(r.rc, 0) << args;
    const std::string all = r.out + r.err;
    EXPECT_EQ(lines(all).size(), 1u) << args << "\n" << all;
    EXPECT_TRUE(has(all, want)) << args << "\n" << all;
    for (const char* raw : {"not expected", "Value ", "Could not convert", "required but received", "INT"})
      EXPECT_FALSE(has(all, raw)) << args << ": CLI11's own words\n" << all;
  }
}

TEST(Cli, LoraFlagIsWrittenAsItsPromptTag) {
  const std::string d = dir_for("loratag");
  const std::string common = kGen + " --seed 4 --lora-dir " + kAdapters;
  Result a = run(common + " -p 'a red fox' --lora lora_a_kohya:0.8 -o " + d + "/a.png");
  ASSERT_EQ(a.rc, 0) << a.err;
  const std::string p = parameters_of(d + "/a.png");
  EXPECT_EQ(lines(p)[0], "a red fox <lora:lora_a_kohya:0.8>") << p;
  // re-use: the saved prompt, tag and all, draws the same picture (A1111's "send to txt2img")
  Result b = run(common + " -p '" + lines(p)[0] + "' -o " + d + "/b.png");
  ASSERT_EQ(b.rc, 0) << b.err;
  EXPECT_EQ(ls::image::read_image(d + "/a.png").rgb, ls::image::read_image(d + "/b.png").rgb);
  EXPECT_EQ(parameters_of(d + "/b.png"), p);
  // UNet and text-encoder strengths that differ: A1111's <lora:NAME:TE:UNET>; a prompt's own tag is not repeated
  Result c = run(common + " -p 'a red fox <lora:locon_b_kohya:0.5>' --lora " + kLora + ":0.8:0.25 -o " + d + "/c.png");
  ASSERT_EQ(c.rc, 0) << c.err;
  EXPECT_EQ(lines(parameters_of(d + "/c.png"))[0], "a red fox <lora:locon_b_kohya:0.5> <lora:lora_a_kohya:0.25:0.8>");
  // --xy LoRA axes: the first cell's stack, in the grid's parameters
  Result g = run(common + " -p 'a red fox' --xy 'lora:lora_a_kohya=0.5,1' -o " + d + "/g.png");
  ASSERT_EQ(g.rc, 0) << g.err;
  EXPECT_EQ(lines(parameters_of(d + "/g.png"))[0], "a red fox <lora:lora_a_kohya:0.5>");
}

TEST(Cli, ParametersCarryTheModelHashOfAFile) {
  const std::string d = dir_for("modelhash");
  // the single-file tiny model: sha256 5e77a0188ba59dbd… (sha256sum), A1111's "Model hash" is its first 10 digits
  Result f = run(" generate -m " + kRef + "model/tiny-sd1.safetensors --tokenizer " + kModel +
                 "/tokenizer -W 64 -H 64 --steps 2 -q -p x -o " + d + "/file.png");
  ASSERT_EQ(f.rc, 0) << f.err;
  EXPECT_TRUE(has(parameters_of(d + "/file.png"), ", Size: 64x64, Model hash: 5e77a0188b, Model: tiny-sd1, "))
      << parameters_of(d + "/file.png");
  // a diffusers folder is no single file: no hash, the Model name alone
  Result folder = run(kGen + " -p x -o " + d + "/folder.png");
  ASSERT_EQ(folder.rc, 0) << folder.err;
  const std::string p = parameters_of(d + "/folder.png");
  EXPECT_FALSE(has(p, "Model hash")) << p;
  EXPECT_TRUE(has(p, ", Size: 64x64, Model: tiny-sd1, ")) << p;
}

// A kohya folder with one captioned 64×64 image.
std::string make_train_data(const std::string& d) {
  const std::string dir = d + "/data/5_blob";
  std::filesystem::create_directories(dir);
  ls::image::Image img{64, 64, std::vector<uint8_t>(64 * 64 * 3, 255)};
  for (int y = 20; y < 44; ++y)
    for (int x = 20; x < 44; ++x) img.rgb[(static_cast<size_t>(y) * 64 + x) * 3 + 1] = 0;
  ls::image::write_png(dir + "/a.png", img);
  std::ofstream(dir + "/a.txt") << "a magenta square";
  return d + "/data";
}

TEST(Cli, TrainResumeErrorsSayWhatToDo) {
  const std::string d = dir_for("resume");
  const std::string base = " train --base " + kModel + " --data " + make_train_data(d) + " --resolution 64 ";
  Result first = run(base + "--rank 4 --alpha 4 --steps 2 --save-every 2 -o " + d + "/style.safetensors");
  ASSERT_EQ(first.rc, 0) << first.err;
  const std::string state = d + "/style.safetensors.state";
  ASSERT_TRUE(std::filesystem::is_directory(state));
  std::filesystem::create_directories(d + "/empty");
  const std::string again = base + "-o " + d + "/more.safetensors ";
  const std::string fresh = "or run without --resume to start over";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--rank 4 --alpha 4 --steps 4 --resume " + d + "/nothing",
       "/nothing: no such folder; --resume takes the OUTPUT.state folder a run with --save-every N writes, " + fresh},
      {"--rank 4 --alpha 4 --steps 4 --resume " + d + "/style.safetensors",
       "a file, not a state folder; give --resume " + d + "/style.safetensors.state"},
      {"--rank 4 --alpha 4 --steps 4 --resume " + d + "/empty", "no resume state in this folder"},
      {"--rank 4 --alpha 4 --steps 2 --resume " + state,
       "the state is at step 2, and --steps is 2; give --steps above 2"},
      {"--rank 8 --alpha 4 --steps 4 --resume " + state,
       "the state was saved with --rank 4, this run has --rank 8; give the saved run's options to resume, " + fresh},
      {"--rank 4 --alpha 1 --steps 4 --resume " + state, "saved with --alpha 4, this run has --alpha 1"},
      {"--rank 4 --alpha 4 --steps 4 --network locon --resume " + state,
       "saved with --network lora, this run has --network locon"},
      {"--rank 4 --alpha 4 --steps 4 --optimizer prodigy --unet-only --resume " + state,
       "saved with UNet and text encoder (neither --unet-only nor --text-encoder-only), --optimizer adamw, this run "
       "has --unet-only, --optimizer prodigy"},
  };
  for (const auto& [args, want] : cases) {
    Result r = run(again + args);
    EXPECT_NE(r.rc, 0) << args;
    const std::string all = r.out + r.err;
    EXPECT_EQ(lines(all).size(), 1u) << args << "\n" << all;
    EXPECT_TRUE(has(all, want)) << args << "\n" << all;
  }
  std::filesystem::copy_file(state + "/network.safetensors", d + "/empty/network.safetensors");
  Result half = run(again + "--rank 4 --alpha 4 --steps 4 --resume " + d + "/empty");
  EXPECT_TRUE(has(half.err, "incomplete resume state (optimizer.safetensors is missing")) << half.err;
  // the matching options resume
  Result ok = run(again + "--rank 4 --alpha 4 --steps 4 --resume " + state);
  EXPECT_EQ(ok.rc, 0) << ok.err;
  EXPECT_TRUE(std::filesystem::exists(d + "/more.safetensors"));
}

}  // namespace
