// Comparison grids: equally sized images in rows × columns, with a label above every column and left of every
// row (the layout of A1111's X/Y plot: white margins, black text centred, long labels wrapped). Labels are drawn
// with FreeType (text.h).
#pragma once

#include <string>
#include <vector>

#include "image/image.h"
#include "image/text.h"

namespace ls::image {

/// Sizes of a grid, in pixels; computed by grid_layout and used by make_grid.
struct GridLayout {
  int cell_width = 0, cell_height = 0;
  int rows = 0, cols = 0;
  int font_px = 0;  ///< label size: max(14, (cell_width + cell_height) / 25) as A1111 scales it, down to 11 to keep
                    ///< column labels on one line
  int label_width = 0;   ///< left margin holding the row labels (0 without row labels)
  int label_height = 0;  ///< top margin holding the column labels (0 without column labels)
  int width() const { return label_width + cols * cell_width; }
  int height() const { return label_height + rows * cell_height; }
};

/// Break a label into lines at most `max_width` pixels wide (at least one line, '\n' starts a new one): at spaces
/// and after commas ("cat,dog" → "cat," "dog"), so words stay whole; only a word wider than `max_width` by itself
/// is broken inside (Font::wrap). Spaces at line ends are dropped.
std::vector<std::string> wrap_label(const Font& font, const std::string& text, int max_width);

/// Lay out `cells` (row-major, `cols` per row) with the given labels. `col_labels` is empty or has `cols`
/// entries, `row_labels` empty or one per row. Throws ls::Error when the cells are not all the same size, the
/// count is not a multiple of `cols`, a label count is wrong, or the font cannot be opened (text.h Font).
GridLayout grid_layout(const std::vector<Image>& cells, int cols, const std::vector<std::string>& col_labels,
                       const std::vector<std::string>& row_labels, const std::string& font_path);

/// The grid image: white margins with the labels, cells pasted at (label_width + c·w, label_height + r·h).
/// Throws as grid_layout does.
Image make_grid(const std::vector<Image>& cells, int cols, const std::vector<std::string>& col_labels,
                const std::vector<std::string>& row_labels, const std::string& font_path);

}  // namespace ls::image
