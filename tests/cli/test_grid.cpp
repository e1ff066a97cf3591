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

// Words (split at spaces) of `lines` joined again: a line break inside a word shows up as a word that is not in
// `words`.
std::vector<std::string> words_of(const std::vector<std::string>& lines) {
  std::vector<std::string> w;
  for (const auto& l : lines) {
    size_t a = 0;
    for (;;) {
      size_t b = l.find(' ', a);
      if (b == std::string::npos) b = l.size();
      if (b > a) w.push_back(l.substr(a, b - a));
      if (b == l.size()) break;
      a = b + 1;
    }
  }
  return w;
}

TEST(Grid, LabelsWrapAtSpacesAndCommasNotInsideWords) {
  Font f(label_font_path(), 14);
  const std::string label = "Prompt S/R: a photo of a castle, watercolor, ink sketch";
  const auto all = words_of({label});
  for (int width = f.text_width("watercolor,") + 1; width < f.text_width(label); width += 7) {
    auto lines = wrap_label(f, label, width);
    EXPECT_GT(lines.size(), 1u) << width;
    for (const auto& l : lines) {
      EXPECT_LE(f.text_width(l), width) << l;
      EXPECT_FALSE(l.empty() || l.front() == ' ' || l.back() == ' ') << "'" << l << "'";
    }
    EXPECT_EQ(words_of(lines), all) << width;  // every word whole, in order
  }
  // commas without spaces are break points too, and the comma stays with the word before it
  const int w = f.text_width("cat,dog,bird,hor");  // "horse," does not fit after "bird,"
  auto lines = wrap_label(f, "cat,dog,bird,horse,cow", w);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "cat,dog,bird,");
  EXPECT_EQ(lines[1], "horse,cow");
  // Font::wrap alone breaks such a label inside "horse"; wrap_label does not
  auto plain = f.wrap("cat,dog,bird,horse,cow", w);
  EXPECT_NE(plain, lines);
  // only a word wider than the line is broken inside, its pieces in order and within the width
  const std::string longword = "supercalifragilisticexpialidocious";
  lines = wrap_label(f, "a " + longword + " b", f.text_width("supercali"));
  ASSERT_GE(lines.size(), 4u);
  EXPECT_EQ(lines.front(), "a");
  std::string joined;  // the pieces in order, nothing lost (spaces aside)
  for (const auto& l : lines)
    for (char c : l)
      if (c != ' ') joined += c;
  EXPECT_EQ(joined, "a" + longword + "b");
  for (const auto& l : lines) EXPECT_LE(f.text_width(l), f.text_width("supercali")) << l;
  // fits: one line; '\n' starts a line; an empty label is one empty line
  EXPECT_EQ(wrap_label(f, "a: 0.5", 500), (std::vector<std::string>{"a: 0.5"}));
  EXPECT_EQ(wrap_label(f, "a\nb", 500), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(wrap_label(f, "", 500), (std::vector<std::string>{""}));
  // the grid's column label height follows wrap_label
  std::vector<Image> cells(2, solid(64, 48, 0));
  GridLayout L = grid_layout(cells, 2, {"cat,dog,bird,horse,cow,sheep", "x"}, {}, label_font_path());
  Font lf(label_font_path(), L.font_px);
  const int col_width = 64 - std::max(4, L.font_px / 4);  // grid.cpp col_text_width
  const int lines_needed = static_cast<int>(wrap_label(lf, "cat,dog,bird,horse,cow,sheep", col_width).size());
  EXPECT_GT(lines_needed, 1);
  EXPECT_EQ(L.label_height, lines_needed * lf.line_height() + 2 * std::max(4, L.font_px / 2));
}

}  // namespace
