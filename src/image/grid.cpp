#include "image/grid.h"

#include <algorithm>
#include <cstring>

#include "image/text.h"
#include "runtime/error.h"

namespace ls::image {

namespace {

int pad_of(int px) { return std::max(4, px / 2); }
// Column labels may use the cell's width but for a small margin on each side.
int col_text_width(int cell_width, int px) { return std::max(8, cell_width - std::max(4, px / 4)); }

// Row labels get at most one cell width and at least six em.
int row_label_limit(int cell_width, int px) { return std::max(cell_width, 6 * px); }

void check(const std::vector<Image>& cells, int cols, const std::vector<std::string>& col_labels,
           const std::vector<std::string>& row_labels) {
  LS_CHECK(!cells.empty(), "grid: no images");
  LS_CHECK(cols > 0 && cells.size() % static_cast<size_t>(cols) == 0, "grid: {} images do not fill rows of {}",
           cells.size(), cols);
  const size_t rows = cells.size() / static_cast<size_t>(cols);
  LS_CHECK(col_labels.empty() || col_labels.size() == static_cast<size_t>(cols), "grid: {} column labels for {} columns",
           col_labels.size(), cols);
  LS_CHECK(row_labels.empty() || row_labels.size() == rows, "grid: {} row labels for {} rows", row_labels.size(), rows);
  for (size_t i = 0; i < cells.size(); ++i) {
    const Image& c = cells[i];
    LS_CHECK(c.width == cells[0].width && c.height == cells[0].height, "grid: image {} is {}×{}, image 0 is {}×{}", i,
             c.width, c.height, cells[0].width, cells[0].height);
    LS_CHECK(c.rgb.size() == static_cast<size_t>(c.width) * c.height * 3, "grid: image {} has {} bytes for {}×{} RGB", i,
             c.rgb.size(), c.width, c.height);
  }
}

GridLayout layout_with(const Font& font, const std::vector<Image>& cells, int cols,
                       const std::vector<std::string>& col_labels, const std::vector<std::string>& row_labels) {
  GridLayout L;
  L.cell_width = cells[0].width;
  L.cell_height = cells[0].height;
  L.cols = cols;
  L.rows = static_cast<int>(cells.size()) / cols;
  L.font_px = font.pixel_size();
  const int pad = pad_of(L.font_px);
  if (!col_labels.empty()) {
    size_t lines = 1;
    for (const auto& s : col_labels)
      lines = std::max(lines, wrap_label(font, s, col_text_width(L.cell_width, L.font_px)).size());
    L.label_height = static_cast<int>(lines) * font.line_height() + 2 * pad;
  }
  if (!row_labels.empty()) {
    int widest = 0;
    const int limit = row_label_limit(L.cell_width, L.font_px) - 2 * pad;
    for (const auto& s : row_labels)
      for (const auto& line : wrap_label(font, s, limit)) widest = std::max(widest, font.text_width(line));
    L.label_width = widest + 2 * pad;
  }
  return L;
}

// A1111's size, (w + h) / 25, at least 14 px; made smaller (down to 11 px) while a column label would need two
// lines, so small cells keep one-line labels where that is enough.
int font_px_for(const std::vector<Image>& cells, const std::vector<std::string>& col_labels, const std::string& path) {
  int px = std::min(96, std::max(14, (cells[0].width + cells[0].height) / 25));
  for (const int floor = std::min(px, 11); px > floor; --px) {
    Font f(path, px);
    bool fits = true;
    for (const auto& s : col_labels) fits = fits && f.text_width(s) <= col_text_width(cells[0].width, px);
    if (fits) break;
  }
  return px;
}

// Pieces of one paragraph that may end a line: a word with the comma after it, and the spaces after that.
struct Piece {
  std::string text, spaces;
};

std::vector<Piece> pieces_of(const std::string& para) {
  std::vector<Piece> out;
  Piece cur;
  for (char ch : para) {
    if (ch == ' ') {
      cur.spaces += ch;
      continue;
    }
    if (!cur.spaces.empty()) {  // a word starts after spaces
      out.push_back(std::move(cur));
      cur = {};
    }
    cur.text += ch;
    if (ch == ',') {  // a break is allowed after a comma
      out.push_back(std::move(cur));
      cur = {};
    }
  }
  if (!cur.text.empty() || !cur.spaces.empty()) out.push_back(std::move(cur));
  return out;
}

// Lines centred horizontally in [x0, x0 + w), the block centred vertically in [y0, y0 + h).
void draw_block(Image& img, const Font& font, const std::vector<std::string>& lines, int x0, int y0, int w, int h) {
  const int lh = font.line_height();
  int y = y0 + (h - static_cast<int>(lines.size()) * lh) / 2 + font.ascent();
  for (const auto& line : lines) {
    font.draw(img, x0 + (w - font.text_width(line)) / 2, y, line, {0, 0, 0});
    y += lh;
  }
}

}  // namespace

std::vector<std::string> wrap_label(const Font& font, const std::string& text, int max_width) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (;;) {  // paragraphs split at '\n'
    const size_t nl = text.find('\n', start);
    const std::string para = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    std::string line, gap;  // the line so far and the spaces that follow it
    bool open = false;      // `line` holds something of this paragraph
    for (const Piece& p : pieces_of(para)) {
      if (p.text.empty()) {  // leading spaces only
        gap += p.spaces;
        continue;
      }
      if (open && font.text_width(line + gap + p.text) <= max_width) {
        line += gap + p.text;
      } else {
        if (open) lines.push_back(line);
        line.clear();
        if (font.text_width(p.text) > max_width) {  // one word wider than a line: break inside it
          auto parts = font.wrap(p.text, max_width);
          for (size_t i = 0; i + 1 < parts.size(); ++i) lines.push_back(parts[i]);
          line = parts.empty() ? std::string() : parts.back();
        } else {
          line = p.text;
        }
        open = true;
      }
      gap = p.spaces;
    }
    lines.push_back(line);  // (an empty paragraph is an empty line)
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  return lines;
}

GridLayout grid_layout(const std::vector<Image>& cells, int cols, const std::vector<std::string>& col_labels,
                       const std::vector<std::string>& row_labels, const std::string& font_path) {
  check(cells, cols, col_labels, row_labels);
  Font font(font_path, font_px_for(cells, col_labels, font_path));
  return layout_with(font, cells, cols, col_labels, row_labels);
}

Image make_grid(const std::vector<Image>& cells, int cols, const std::vector<std::string>& col_labels,
                const std::vector<std::string>& row_labels, const std::string& font_path) {
  check(cells, cols, col_labels, row_labels);
  Font font(font_path, font_px_for(cells, col_labels, font_path));
  const GridLayout L = layout_with(font, cells, cols, col_labels, row_labels);
  Image out;
  out.width = L.width();
  out.height = L.height();
  out.rgb.assign(static_cast<size_t>(out.width) * out.height * 3, 255);
  for (size_t i = 0; i < cells.size(); ++i) {
    const int r = static_cast<int>(i) / cols, c = static_cast<int>(i) % cols;
    const int x0 = L.label_width + c * L.cell_width, y0 = L.label_height + r * L.cell_height;
    for (int y = 0; y < L.cell_height; ++y)
      std::memcpy(&out.rgb[(static_cast<size_t>(y0 + y) * out.width + x0) * 3],
                  &cells[i].rgb[static_cast<size_t>(y) * L.cell_width * 3], static_cast<size_t>(L.cell_width) * 3);
  }
  const int pad = pad_of(L.font_px);
  for (int c = 0; c < static_cast<int>(col_labels.size()); ++c)
    draw_block(out, font,
               wrap_label(font, col_labels[static_cast<size_t>(c)], col_text_width(L.cell_width, L.font_px)),
               L.label_width + c * L.cell_width, 0, L.cell_width, L.label_height);
  const int limit = row_label_limit(L.cell_width, L.font_px) - 2 * pad;
  for (int r = 0; r < static_cast<int>(row_labels.size()); ++r)
    draw_block(out, font, wrap_label(font, row_labels[static_cast<size_t>(r)], limit), 0,
               L.label_height + r * L.cell_height, L.label_width, L.cell_height);
  return out;
}

}  // namespace ls::image
