#include "bench/table_text.h"

#include <algorithm>

namespace scout::bench {

size_t display_width(const std::string& s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

std::string render_table(const std::vector<Column>& cols) {
  std::vector<size_t> width;
  for (const Column& c : cols) {
    size_t w = std::max<size_t>(display_width(c.header), 3);
    for (const std::string& s : c.cells) w = std::max(w, display_width(s));
    width.push_back(w);
  }
  std::string out;
  // One cell padded to its column (appends only: GCC 12 warns falsely on
  // chains of string operator+ at -O3).
  auto cell = [&](const std::string& s, size_t i) {
    const size_t fill = width[i] - std::min(width[i], display_width(s));
    out += ' ';
    if (cols[i].right) out.append(fill, ' ');
    out += s;
    if (!cols[i].right) out.append(fill, ' ');
    out += " |";
  };
  out += '|';
  for (size_t i = 0; i < cols.size(); ++i) cell(cols[i].header, i);
  out += "\n|";
  for (size_t i = 0; i < cols.size(); ++i) cell(std::string(width[i] - 1, '-') + (cols[i].right ? ':' : '-'), i);
  out += '\n';
  const size_t rows = cols.empty() ? 0 : cols[0].cells.size();
  for (size_t r = 0; r < rows; ++r) {
    out += '|';
    for (size_t i = 0; i < cols.size(); ++i) cell(cols[i].cells[r], i);
    out += '\n';
  }
  return out;
}

std::string csv_cell(const nlohmann::ordered_json& v) {
  if (v.is_null()) return "";
  if (v.is_array()) {  // samples: "a;b;c"
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) s += ';';
      s += csv_cell(v[i]);
    }
    return s;
  }
  if (!v.is_string()) return v.dump();
  const std::string s = v.get<std::string>();
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) {
    if (c == '"') q += '"';  // "" inside quotes
    q += c;
  }
  q += '"';
  return q;
}

}  // namespace scout::bench
