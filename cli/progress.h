// Progress of `lorastack generate` on stderr: on a terminal one line redrawn in place
//   image 2/6 [##########--------------] 8/20  3.41 it/s  ETA 0:07
// (ETA for the whole run: the rest of this image and the images still to come, at the measured rate; below one
// step per second the rate reads "s/it" as tqdm does); otherwise one plain line per step.
#pragma once

#include <chrono>
#include <string>
#include <utility>

class Progress {
 public:
  /// `images`: how many images (batches, grid cells: `noun`) the run makes; `tty`: redraw one line (else plain
  /// lines).
  Progress(int images, bool tty, std::string noun = "image") : images_(images), tty_(tty), noun_(std::move(noun)) {}

  /// Start image `index` (0-based); `label` is shown after the counter ("seed 43", "style: 0.5, Seed: 2").
  void begin(int index, const std::string& label);
  /// Sampling step `step` (1-based) of `total` done.
  void step(int step, int total);
  /// The image is finished (ends the redrawn line on a terminal).
  void end();

  /// "0:07", "1:02:03".
  static std::string clock(double seconds);

 private:
  using Clock = std::chrono::steady_clock;
  int images_ = 1;
  bool tty_ = false;
  std::string noun_;
  int index_ = 0;
  std::string label_;
  Clock::time_point start_;
  double seconds_per_step_ = 0;  ///< last measured, carried to the next image's ETA
  bool line_open_ = false;
};
