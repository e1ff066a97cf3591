// `lorastack train`: a LoRA-family adapter (or a full fine-tune) from a kohya-style image folder
// (include/lorastack/train.h). Progress: one redrawn line on a terminal (step, loss, it/s, ETA), plain lines
// otherwise; warnings and checkpoint / sample events on their own lines.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <stdexcept>
#include <memory>

#include "lorastack/train.h"
#include "progress.h"
#include "toolbox_commands.h"
#include "train_resume.h"

void add_train_command(CLI::App& app, ToolboxActions& actions) {
  auto o = std::make_shared<lorastack::TrainOptions>();
  auto* t = app.add_subcommand("train", "train a LoRA / LoCon / LoHa / LoKr / DoRA adapter (or a full fine-tune) from images");
  t->footer(
      "Data folder (kohya layout): DIR/<repeats>_<name>/<image>.png|jpg|webp with a same-stem .txt caption.\n"
      "Example:\n"
      "  lorastack train --base sd15.safetensors --data train/ --network lora --rank 16 --alpha 8 \\\n"
      "      --steps 1000 --lr 1e-4 --batch-size 2 --resolution 512 --device cuda --precision bf16 \\\n"
      "      --save-every 250 -o my_style.safetensors\n"
      "  # resume after an interruption:  ... --resume my_style.safetensors.state");
  t->add_option("--base", o->base, "base model (file or diffusers folder)")->required();
  t->add_option("--data", o->data_dir, "kohya-style image folder")->required();
  t->add_option("-o,--output", o->output, "output .safetensors")->required();
  t->add_option("--tokenizer", o->tokenizer_dir, "folder with vocab.json + merges.txt");
  t->add_option("--network", o->network, "lora | locon | loha | lokr | dora | full")->capture_default_str();
  t->add_option("--rank", o->rank, "network rank (network_dim)")->capture_default_str();
  t->add_option("--alpha", o->alpha, "network alpha: updates are scaled by alpha/rank")->capture_default_str();
  t->add_option("--conv-rank", o->conv_rank, "rank of 3×3 conv modules (locon/loha/lokr; 0 = --rank)");
  t->add_option("--conv-alpha", o->conv_alpha, "alpha of 3×3 conv modules (0 = --alpha)");
  t->add_flag("--unet-only", o->unet_only, "train only the UNet modules");
  t->add_flag("--text-encoder-only", o->text_encoder_only, "train only the text encoder modules");
  t->add_option("--steps", o->steps, "optimizer steps")->capture_default_str();
  t->add_option("--lr", o->learning_rate, "learning rate (prodigy: a multiplier, use 1)")->capture_default_str();
  t->add_option("--optimizer", o->optimizer, "adamw | adamw8bit | prodigy")->capture_default_str();
  t->add_option("--weight-decay", o->weight_decay, "decoupled weight decay")->capture_default_str();
  t->add_option("--lr-scheduler", o->lr_scheduler, "constant | constant_with_warmup | linear | cosine")
      ->capture_default_str();
  t->add_option("--lr-warmup-steps", o->lr_warmup_steps, "linear warm-up steps");
  t->add_option("--batch-size", o->batch_size, "images per step")->capture_default_str();
  t->add_option("--gradient-accumulation", o->gradient_accumulation, "micro-batches per optimizer step");
  t->add_flag("--gradient-checkpointing", o->gradient_checkpointing, "recompute UNet blocks in backward (less memory)");
  t->add_option("--resolution", o->resolution, "training size (square; bucket area with --buckets)")
      ->capture_default_str();
  t->add_flag("--buckets", o->buckets, "aspect-ratio buckets (kohya enable_bucket)");
  t->add_option("--min-bucket-reso", o->min_bucket_reso, "smallest bucket side")->capture_default_str();
  t->add_option("--max-bucket-reso", o->max_bucket_reso, "largest bucket side")->capture_default_str();
  t->add_option("--caption-extension", o->caption_extension, "caption file extension")->capture_default_str();
  t->add_option("--caption-dropout", o->caption_dropout, "probability of training on an empty caption");
  t->add_option("--caption-tag-dropout", o->caption_tag_dropout, "probability of dropping each tag");
  t->add_flag("--shuffle-caption", o->shuffle_caption, "shuffle comma-separated tags each epoch");
  t->add_option("--keep-tokens", o->keep_tokens, "leading tags never shuffled or dropped");
  t->add_flag("--flip-aug", o->flip_aug, "random horizontal flips");
  t->add_option("--noise-offset", o->noise_offset, "noise offset (e.g. 0.05)");
  t->add_option("--min-snr-gamma", o->min_snr_gamma, "Min-SNR loss weighting γ (e.g. 5)");
  t->add_option("--clip-skip", o->clip_skip, "text encoder layer from the end (2 = penultimate)");
  t->add_option("--seed", o->seed, "seed of init, data order, noise and timesteps")->capture_default_str();
  t->add_option("--save-every", o->save_every, "write OUT-stepNNNNNN.safetensors and the resume state every N steps");
  t->add_option("--save-precision", o->save_precision, "fp16 | bf16 | fp32")->capture_default_str();
  t->add_option("--sample-every", o->sample_every, "render a sample image every N steps");
  t->add_option("--sample-prompt", o->sample_prompt, "prompt of the sample images");
  t->add_option("--sample-steps", o->sample_steps, "sampling steps of the sample images");
  t->add_option("--resume", o->resume,
                "resume from a state folder (OUT.state, written with --save-every); give the options of the run that "
                "wrote it");
  t->add_option("--comment", o->comment, "training comment stored in the metadata");
  t->add_option("--device", o->device, "cpu | cuda | cuda:N")->capture_default_str();
  t->add_option("--precision", o->precision, "compute precision of the frozen model: fp32 | fp16 | bf16")
      ->capture_default_str();
  t->add_option("--threads", o->threads, "CPU threads (0 = all)");
  actions.emplace_back(t, [o] {
    check_resume_state(*o);  // before the model loads: a state that cannot be resumed says so at once
    const bool tty = isatty(STDERR_FILENO);
    double last = 0;
    auto on_progress = [&](const lorastack::TrainProgress& p) {
      if (p.step == 0) {  // an event without a step (data warnings)
        std::fprintf(stderr, "%s%s\n", tty ? "\r\033[K" : "", p.event.c_str());
        return;
      }
      const double rate = p.seconds > 0 ? p.step / p.seconds : 0;
      const double eta = rate > 0 ? (p.total - p.step) / rate : 0;
      if (tty) {
        std::fprintf(stderr, "\r\033[Kstep %d/%d  loss %.4f (avg %.4f)  lr %.3g  %.2f it/s  ETA %s", p.step, p.total,
                     p.loss, p.avg_loss, p.lr, rate, Progress::clock(eta).c_str());
        if (!p.event.empty()) std::fprintf(stderr, "\n%s\n", p.event.c_str());
        if (p.step == p.total) std::fprintf(stderr, "\n");
      } else if (p.seconds - last >= 1.0 || p.step == p.total || !p.event.empty() || p.step == 1) {
        last = p.seconds;
        std::fprintf(stderr, "step %d/%d loss %.4f avg %.4f lr %.3g %.2f it/s ETA %s%s%s\n", p.step, p.total, p.loss,
                     p.avg_loss, p.lr, rate, Progress::clock(eta).c_str(), p.event.empty() ? "" : "  ", p.event.c_str());
      }
    };
    lorastack::TrainResult r;
    try {
      r = lorastack::train(*o, on_progress);
    } catch (const std::exception& e) {
      throw std::runtime_error(with_resume_hint(*o, e.what()));
    }
    std::cerr << "trained " << r.steps << " steps in " << r.seconds << " s";
    if (!r.warnings.empty()) std::cerr << " (" << r.warnings.size() << " data warnings)";
    std::cerr << "\n";
    std::cout << r.output << "\n";
    return 0;
  });
}
