// The metadata a trained adapter carries: kohya sd-scripts' ss_* keys (train_network.py get_metadata; the
// data-side keys come from Dataset::kohya_metadata) and Stability's ModelSpec 1.0.0 keys (modelspec.*), every
// value a string in Python's str() spelling, so A1111 / ComfyUI / civitai tools read them as from kohya.
#pragma once

#include <map>
#include <string>

#include "lorastack/train.h"
#include "models/sd1/loader.h"
#include "train/data.h"
#include "train/network.h"
#include "train/optimizer.h"

namespace ls::train {

struct MetadataInputs {
  const lorastack::TrainOptions& options;
  const sd::LoadedModel& model;
  const Dataset& data;
  Network& network;
  const Optimizer& optimizer;
  std::string output;
};

/// The metadata map after `steps` optimizer steps and `seconds` of training.
std::map<std::string, std::string> training_metadata(const MetadataInputs& in, int steps, double seconds);

}  // namespace ls::train
