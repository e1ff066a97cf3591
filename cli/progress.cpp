#include "progress.h"

#include <cstdio>

#include <fmt/format.h>

std::string Progress::clock(double s) {
  if (!(s >= 0) || s > 360000) return "?";
  long t = static_cast<long>(s + 0.5);
  if (t >= 3600) return fmt::format("{}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60);
  return fmt::format("{}:{:02}", t / 60, t % 60);
}

void Progress::begin(int index, const std::string& label) {
  index_ = index;
  label_ = label;
  start_ = Clock::now();
}

void Progress::step(int step, int total) {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  if (step > 0) seconds_per_step_ = elapsed / step;
  const double left_steps = (total - step) + static_cast<double>(images_ - index_ - 1) * total;
  const std::string eta = seconds_per_step_ > 0 ? clock(left_steps * seconds_per_step_) : "?";
  std::string rate = seconds_per_step_ <= 0 ? "? it/s"
                     : seconds_per_step_ < 1.0 ? fmt::format("{:.2f} it/s", 1.0 / seconds_per_step_)
                                              : fmt::format("{:.2f} s/it", seconds_per_step_);
  std::string head = images_ > 1 ? fmt::format("{} {}/{}", noun_, index_ + 1, images_) : noun_;
  if (!label_.empty()) head += " (" + label_ + ")";
  if (tty_) {
    constexpr int kWidth = 24;
    const int filled = total > 0 ? step * kWidth / total : kWidth;
    std::string bar = std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(kWidth - filled), '-');
    std::fprintf(stderr, "\r\x1b[K%s [%s] %d/%d  %s  ETA %s", head.c_str(), bar.c_str(), step, total, rate.c_str(),
                 eta.c_str());
    std::fflush(stderr);
    line_open_ = true;
  } else {
    std::fprintf(stderr, "%s step %d/%d (%s, ETA %s)\n", head.c_str(), step, total, rate.c_str(), eta.c_str());
  }
}

void Progress::end() {
  if (tty_ && line_open_) std::fprintf(stderr, "\n");
  line_open_ = false;
}
