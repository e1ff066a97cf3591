// `lorastack train --resume DIR`: check the resume state before the model loads, and say what to do next when it
// cannot be used (no state there, an incomplete one, or one saved with other network / optimizer options).
#pragma once

#include <string>

#include "lorastack/train.h"

/// Check `o.resume` (a folder written by a run with --save-every: network.safetensors with its ls_step,
/// optimizer.safetensors) against the options of this run: --network, --rank, --alpha, --conv-rank, --conv-alpha,
/// --unet-only / --text-encoder-only, --optimizer, --steps. Throws ls::Error, one line naming the folder, what
/// differs (saved value vs this run's) and what to do: give the saved options, a larger --steps, the right
/// folder, or run without --resume. Does nothing when `o.resume` is empty.
void check_resume_state(const lorastack::TrainOptions& o);

/// The message of an error the trainer threw while resuming ("resume: …"), with what to do next appended; other
/// messages unchanged.
std::string with_resume_hint(const lorastack::TrainOptions& o, const std::string& message);
