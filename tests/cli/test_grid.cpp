// Grid layout and FreeType labels (image/grid.h, image/text.h).
#include <gtest/gtest.h>

#include <cstdlib>

#include "../common/error_of.h"
#include "image/grid.h"
#include "image/text.h"

namespace {

using namespace ls::image;

Image solid(int w, int h, uint8_t v) { return {w, h, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3, v)}; }

TEST(Text, MeasuresWrapsAndDraws) {
  Font f(label_font_path(), 20);
  EXPECT_GT(f.line_height(), 20);
  EXPECT_GT(f.ascent(), 10);
  const int w = f.text_width("Seed: 12");
  EXPECT_GT(w, 40);
  EXPECT_LT(w, 120);
  EXPECT_EQ(f.text_width(""), 0);
  auto lines = f.wrap("lora_a_kohya: 0.5 and more words here", 100);
  EXPECT_GT(lines.size(), 1u);
  for (const auto& l : lines) EXPECT_LE(f.text_width(l), 100) << l;
  EXPECT_EQ(f.wrap("a\nb", 100), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(f.wrap("unbreakablewordthatislong", 30).size() > 1, true);
  Image img = solid(120, 40, 255);
  f.draw(img, 5, 28, "Seed: 12 ✓ é", {0, 0, 0});
  int dark = 0;
  for (size_t i = 0; i < img.rgb.size(); i += 3) dark += img.rgb[i] < 128;
  EXPECT_GT(dark, 50);  // glyphs were rendered
  f.draw(img, -50, -10, "clipped", {0, 0, 0});  // off the image: clipped, no crash
  EXPECT_EQ(utf8_decode("a\xffz").size(), 3u);  // malformed byte → U+FFFD
}

TEST(Text, MissingFontSaysWhatToInstall) {
  std::string m = ls::testing::error_of([] { Font("/nonexistent/DejaVuSans.ttf", 16); });
  EXPECT_NE(m.find("fonts-dejavu-core"), std::string::npos) << m;
  EXPECT_NE(m.find("--font"), std::string::npos) << m;
  m = ls::testing::error_of([] { Font(LS_SHARED_DIR "/refsuite/README.md", 16); });
  EXPECT_NE(m.find("cannot read it as a font"), std::string::npos) << m;
  EXPECT_EQ(label_font_path("x.ttf"), "x.ttf");
}

TEST(Grid, LayoutPastesCellsAndLabels) {
  std::vector<Image> cells;
  for (int i = 0; i < 6; ++i) cells.push_back(solid(64, 48, static_cast<uint8_t>(40 * i)));
  std::vector<std::string> cols = {"a: 0", "a: 0.5", "a: 1"}, rows = {"Seed: 1", "Seed: 2"};
  GridLayout L = grid_layout(cells, 3, cols, rows, label_font_path());
  EXPECT_EQ(L.font_px, 14);
  EXPECT_GT(L.label_width, 0);
  EXPECT_GT(L.label_height, 0);
  Image g = make_grid(cells, 3, cols, rows, label_font_path());
  ASSERT_EQ(g.width, L.label_width + 3 * 64);
  ASSERT_EQ(g.height, L.label_height + 2 * 48);
  for (int i = 0; i < 6; ++i) {  // each cell's pixels where they belong
    const int x = L.label_width + (i % 3) * 64 + 10, y = L.label_height + (i / 3) * 48 + 10;
    EXPECT_EQ(g.rgb[(static_cast<size_t>(y) * g.width + x) * 3], 40 * i) << i;
  }
  // the label margins hold dark text on white
  int dark = 0;
  for (int y = 0; y < L.label_height; ++y)
    for (int x = 0; x < g.width; ++x) dark += g.rgb[(static_cast<size_t>(y) * g.width + x) * 3] < 100;
  EXPECT_GT(dark, 30);
  Image one_row = make_grid({cells[0], cells[1]}, 2, {"x", "y"}, {}, label_font_path());
  EXPECT_EQ(one_row.width, 128);
  EXPECT_THROW(make_grid({cells[0], solid(10, 10, 0)}, 2, {}, {}, label_font_path()), ls::Error);
  EXPECT_THROW(make_grid(cells, 4, {}, {}, label_font_path()), ls::Error);
  EXPECT_THROW(make_grid(cells, 3, {"only one"}, {}, label_font_path()), ls::Error);
}

}  // namespace
