// Text output shared by `scout bench`'s reports (bench/report.cpp) and the
// serving benchmark's (bench/serving_metrics.cpp): markdown tables whose
// columns are padded to their widest cell, and CSV cells.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace scout::bench {

// Columns a string takes in a terminal: UTF-8 code points ("±" is one).
size_t display_width(const std::string& s);

struct Column {
  explicit Column(std::string h, bool r = true) : header(std::move(h)), right(r) {}
  std::string header;
  bool right;  // numbers right-aligned, names left
  std::vector<std::string> cells;
};

// Columns padded to their widest cell, with the alignment row markdown wants.
std::string render_table(const std::vector<Column>& cols);

// One CSV cell: null empty, arrays (samples) as "a;b;c", strings quoted when they need it.
std::string csv_cell(const nlohmann::ordered_json& v);

}  // namespace scout::bench
