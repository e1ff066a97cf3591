// `lorastack generate --xy …`: every combination of one or two axes (toolbox/xy_plot.h) rendered into one labelled
// grid (image/grid.h), saved with the first cell's parameters.
#include <unistd.h>

#include <chrono>
#include <iostream>

#include "generate.h"
#include "image/grid.h"
#include "image/text.h"
#include "pipeline/parameters.h"
#include "progress.h"
#include "runtime/error.h"
#include "toolbox/xy_plot.h"

namespace {

bool same_stack(const std::vector<lorastack::LoraSpec>& a, const std::vector<lorastack::LoraSpec>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].path != b[i].path || a[i].unet_strength != b[i].unet_strength || a[i].te_strength != b[i].te_strength ||
        a[i].block_weights != b[i].block_weights)
      return false;
  return true;
}

}  // namespace

int run_xy(GenerateArgs& a) {
  using ls::toolbox::XYAxis;
  if (a.xy.size() > 2) ls::fail("--xy given {} times; a grid has two axes (X columns, Y rows)", a.xy.size());
  if (a.batch_count != 1 || a.req.batch_size != 1)
    ls::fail("--xy renders one image per cell; leave out --batch-size / --batch-count (use a seed axis instead)");
  std::vector<XYAxis> axes;
  for (const auto& s : a.xy) axes.push_back(ls::toolbox::parse_xy_axis(s));
  const XYAxis* x = &axes[0];
  const XYAxis* y = axes.size() > 1 ? &axes[1] : nullptr;
  const size_t cols = x->values.size(), rows = y ? y->values.size() : 1;
  if (cols * rows > ls::toolbox::kMaxGridCells)
    ls::fail("--xy: {} × {} = {} cells, more than {}", cols, rows, cols * rows, ls::toolbox::kMaxGridCells);
  GenerateSession session(a);
  const std::string font = ls::image::label_font_path(a.font);
  ls::image::Font check_font(font, 16);  // fail now, not after rendering, when the font is missing

  auto base_stack = session.initial_stack();
  // LoRA axes may name adapters that are not in the stack yet: add them (strength set per cell)
  for (const XYAxis& ax : axes) {
    if (ax.kind != ls::toolbox::XYKind::LoraStrength) continue;
    bool present = false;
    for (const auto& s : base_stack) present = present || ls::toolbox::lora_matches(s, ax.lora);
    if (!present) base_stack.push_back({lorastack::resolve_lora(ax.lora, a.lora_dir), 0.0f, 0.0f, ""});
  }
  // A cell's request and stack; checks every value (Prompt S/R text present, …) before anything renders.
  auto cell = [&](size_t c, size_t r, lorastack::GenerateRequest& req, std::vector<lorastack::LoraSpec>& stack) {
    req = a.req;
    stack = base_stack;
    ls::toolbox::apply_xy_value(*x, c, req, stack);
    if (y) ls::toolbox::apply_xy_value(*y, r, req, stack);
    req.prompt = session.tagged_prompt(req.prompt, stack);  // --lora and LoRA-axis adapters as A1111 tags
  };
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) {
      lorastack::GenerateRequest req;
      std::vector<lorastack::LoraSpec> stack;
      cell(c, r, req, stack);
    }

  session.start_model_hash();
  lorastack::Engine engine(a.model);  // loaded once everything above checked out
  if (!a.quiet) std::cerr << engine.describe() << "\n";
  // LoRA axes change the fused weights: walk them in the outer loop so the stack changes least often.
  const bool x_outer = x->kind == ls::toolbox::XYKind::LoraStrength && !(y && y->kind == ls::toolbox::XYKind::LoraStrength);
  std::vector<lorastack::Image> images(cols * rows);
  std::string first_parameters;
  std::vector<lorastack::LoraSpec> applied;
  bool have_applied = false;
  Progress progress(static_cast<int>(cols * rows), isatty(STDERR_FILENO) && !a.quiet, "cell");
  const auto t0 = std::chrono::steady_clock::now();
  int done = 0;
  for (size_t outer = 0; outer < (x_outer ? cols : rows); ++outer)
    for (size_t inner = 0; inner < (x_outer ? rows : cols); ++inner) {
      const size_t c = x_outer ? outer : inner, r = x_outer ? inner : outer;
      lorastack::GenerateRequest req;
      std::vector<lorastack::LoraSpec> stack;
      cell(c, r, req, stack);
      if (!have_applied || !same_stack(stack, applied)) {
        session.apply_stack(engine, stack, !have_applied && !a.quiet);
        applied = stack;
        have_applied = true;
      }
      progress.begin(done, x->label(c) + (y ? ", " + y->label(r) : std::string()));
      auto result = engine.generate(req, [&](int step, int steps) {
        if (!a.quiet) progress.step(step, steps);
      });
      progress.end();
      ++done;
      images[r * cols + c] = std::move(result.images.at(0));
      if (r == 0 && c == 0) first_parameters = result.parameters;
    }

  std::vector<ls::image::Image> cells;
  for (auto& im : images) cells.push_back({im.width, im.height, std::move(im.rgb)});
  std::vector<std::string> col_labels, row_labels;
  for (size_t c = 0; c < cols; ++c) col_labels.push_back(x->label(c));
  if (y)
    for (size_t r = 0; r < rows; ++r) row_labels.push_back(y->label(r));
  ls::image::Image grid = ls::image::make_grid(cells, static_cast<int>(cols), col_labels, row_labels, font);

  lorastack::GenerateRequest req0;
  std::vector<lorastack::LoraSpec> stack0;
  cell(0, 0, req0, stack0);
  std::string path = session.output_path(session.name_values(req0, stack0, req0.seed, 0, 0, 0), 0, 1);
  session.save(path, {grid.width, grid.height, std::move(grid.rgb)},
               lorastack::with_model_hash(first_parameters, session.model_hash()));
  if (!a.quiet)
    std::cerr << fmt::format("{}×{} grid of {} images ({}×{} pixels) in {:.1f} s\n", cols, rows, cols * rows, grid.width,
                           grid.height, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return 0;
}
