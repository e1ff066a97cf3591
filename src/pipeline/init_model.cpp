// `lorastack model init`: random-weight models with the real layout (models/sd1/init.h), plus — for the
// diffusers-folder form — a byte-level CLIP tokenizer so the folder is runnable with no download.
#include <filesystem>

#include "lorastack/lorastack.h"
#include "models/sd1/init.h"
#include "runtime/error.h"
#include "text/clip_tokenizer.h"
#include "text/tokenizer_files.h"

namespace lorastack {

void init_model(const std::string& arch, const std::string& config_yaml, uint64_t seed, const std::string& out,
                const std::string& tokenizer_dir) {
  namespace fs = std::filesystem;
  auto cfg = ls::sd::preset_configs(ls::sd::init_arch_from_name(arch));
  if (!config_yaml.empty()) cfg = ls::sd::configs_from_yaml(config_yaml);
  const bool single = out.size() > 12 && out.compare(out.size() - 12, 12, ".safetensors") == 0;
  if (!tokenizer_dir.empty()) {
    // the text encoder's embedding table is sized to this tokenizer, whose files go into the folder
    if (single) ls::fail("{}: --tokenizer needs the folder form (a name without .safetensors)", out);
    const ls::text::ClipTokenizer tok(ls::text::find_tokenizer_dir("", tokenizer_dir));
    cfg.text.vocab_size = tok.vocab_size();
    cfg.text.bos_token_id = tok.bos_id();
    cfg.text.eos_token_id = tok.eos_id();
    cfg.text.pad_token_id = tok.eos_id();
    ls::sd::write_initialized_model(cfg, seed, out);
    std::error_code ec;
    fs::create_directories(fs::path(out) / "tokenizer", ec);
    for (const auto& e : fs::directory_iterator(tokenizer_dir, ec))
      if (e.is_regular_file())
        fs::copy_file(e.path(), fs::path(out) / "tokenizer" / e.path().filename(), fs::copy_options::overwrite_existing);
    return;
  }
  if (!single) {
    // The folder form carries its own byte-level tokenizer (514 ids: 512 byte symbols + BOS/EOS).
    cfg.text.bos_token_id = 512;
    cfg.text.eos_token_id = 513;
    cfg.text.pad_token_id = 513;
    cfg.text.vocab_size = 514;
  }
  ls::sd::write_initialized_model(cfg, seed, out);
  if (!single) {
    ls::text::write_byte_tokenizer((std::filesystem::path(out) / "tokenizer").string());
  } else {
    // a byte-level tokenizer beside the file (MODEL.tokenizer/, where the tokenizer search looks first), so the
    // random model generates with no download; its 514 ids fit inside the CLIP-sized embedding table
    const std::filesystem::path p(out);
    ls::text::write_byte_tokenizer((p.parent_path() / (p.stem().string() + ".tokenizer")).string());
  }
}

}  // namespace lorastack
