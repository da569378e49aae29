#include "cli/table.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>

namespace slipway::cli {
namespace {

constexpr size_t kGap = 2;
// Columns are never narrowed below this, so a cut cell still hints at its content.
constexpr size_t kMinColumnWidth = 6;
constexpr std::string_view kEllipsis = "…";

bool IsContinuationByte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

std::string Sanitize(std::string text) {
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
  }
  return text;
}

}  // namespace

size_t DisplayWidth(const std::string& text) {
  return std::count_if(text.begin(), text.end(), [](char c) { return !IsContinuationByte(c); });
}

std::string Truncate(const std::string& text, size_t width) {
  if (DisplayWidth(text) <= width) return text;
  if (width == 0) return "";
  size_t keep = width - 1;
  size_t end = 0;
  for (size_t points = 0; end < text.size(); ++end) {
    if (!IsContinuationByte(text[end]) && points++ == keep) break;
  }
  return text.substr(0, end) + std::string(kEllipsis);
}

size_t StdoutTerminalWidth() {
  if (!isatty(STDOUT_FILENO)) return 0;
  winsize size{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) != 0 || size.ws_col == 0) return 0;
  return size.ws_col;
}

Table::Table(std::vector<Column> columns) : columns_(std::move(columns)) {
  for (Column& column : columns_) column.header = Sanitize(std::move(column.header));
}

void Table::AddRow(std::vector<std::string> cells) {
  assert(cells.size() <= columns_.size());
  cells.resize(columns_.size());
  for (std::string& cell : cells) cell = Sanitize(std::move(cell));
  rows_.push_back(std::move(cells));
}

std::vector<size_t> Table::FitWidths(size_t max_width) const {
  std::vector<size_t> widths(columns_.size());
  for (size_t i = 0; i < columns_.size(); ++i) {
    widths[i] = DisplayWidth(columns_[i].header);
    for (const auto& row : rows_) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }
  if (max_width == 0 || widths.empty()) return widths;

  std::vector<size_t> floors(widths.size());
  for (size_t i = 0; i < widths.size(); ++i) {
    floors[i] = columns_[i].truncatable ? std::min(widths[i], kMinColumnWidth) : widths[i];
  }
  size_t total = kGap * (widths.size() - 1);
  for (size_t w : widths) total += w;
  while (total > max_width) {
    size_t widest = widths.size();
    for (size_t i = 0; i < widths.size(); ++i) {
      if (widths[i] > floors[i] && (widest == widths.size() || widths[i] > widths[widest])) {
        widest = i;
      }
    }
    if (widest == widths.size()) break;
    --widths[widest];
    --total;
  }
  return widths;
}

void Table::Print(std::ostream& out, size_t max_width) const {
  std::vector<size_t> widths = FitWidths(max_width);
  auto print_line = [&](auto cell_at) {
    std::string line;
    for (size_t i = 0; i < columns_.size(); ++i) {
      std::string cell = Truncate(cell_at(i), widths[i]);
      std::string padding(widths[i] - DisplayWidth(cell), ' ');
      if (i > 0) line.append(kGap, ' ');
      if (columns_[i].align == Align::kRight) {
        line += padding + cell;
      } else {
        line += cell + padding;
      }
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out << line << '\n';
  };

  bool has_header = std::any_of(columns_.begin(), columns_.end(),
                                [](const Column& column) { return !column.header.empty(); });
  if (has_header) print_line([&](size_t i) -> const std::string& { return columns_[i].header; });
  for (const auto& row : rows_) {
    print_line([&](size_t i) -> const std::string& { return row[i]; });
  }
}

}  // namespace slipway::cli
