#include "training/charts.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/markup.h"

namespace slipway::training {
namespace {

// Tableau 10: distinct to most eyes, and for up to ten classes.
constexpr const char* kColors[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                   "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
constexpr size_t kColorCount = sizeof kColors / sizeof kColors[0];
constexpr const char* kFont = "font-family=\"Helvetica, Arial, sans-serif\"";
// Roughly a character's width at 12px, for laying out labels.
constexpr double kCharWidth = 6.6;

// A tick's text with as many decimals as the step needs.
std::string TickText(double value, double step) {
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  if (std::abs(value) < step * 1e-6) value = 0;
  if (std::abs(value) >= 1e6 || (value != 0 && std::abs(value) < 1e-4)) {
    return fmt::format("{:.3g}", value);
  }
  return fmt::format("{:.{}f}", value, decimals);
}

double NiceStep(double span, int target) {
  const double raw = span / std::max(1, target);
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  const double fraction = raw / power;
  const double nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
  return nice * power;
}

// Maps data coordinates onto the plot area.
struct Scale {
  double low, high;  // data
  double from, to;   // pixels
  double operator()(double v) const { return from + (v - low) / (high - low) * (to - from); }
};

std::pair<double, double> RangeOf(const std::vector<double>& values) {
  double low = std::numeric_limits<double>::infinity();
  double high = -low;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    low = std::min(low, v);
    high = std::max(high, v);
  }
  if (!std::isfinite(low)) return {0, 1};
  if (low == high) return {low - 0.5, high + 0.5};
  return {low, high};
}

// The range widened to the outer nice ticks.
std::pair<double, double> NiceRange(std::pair<double, double> range) {
  const double step = NiceStep(range.second - range.first, 5);
  return {std::floor(range.first / step) * step, std::ceil(range.second / step) * step};
}

void Header(std::string& svg, double width, double height, const std::string& title) {
  svg += fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0:.0f}\" height=\"{1:.0f}\" "
      "viewBox=\"0 0 {0:.0f} {1:.0f}\" {2} font-size=\"12\">\n",
      width, height, kFont);
  svg += fmt::format("<title>{}</title>\n", EscapeMarkup(title));
  svg +=
      fmt::format("<rect width=\"{:.0f}\" height=\"{:.0f}\" fill=\"#ffffff\"/>\n", width, height);
  svg += fmt::format(
      "<text x=\"{:.1f}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" "
      "font-weight=\"bold\" fill=\"#222\">{}</text>\n",
      width / 2, EscapeMarkup(title));
}

}  // namespace

std::vector<double> NiceTicks(double low, double high, int target) {
  if (!(high > low)) return {low};
  const double step = NiceStep(high - low, target);
  std::vector<double> ticks;
  const double first = std::ceil(low / step - 1e-9);
  for (double i = first;; ++i) {
    const double tick = i * step;
    if (tick > high + step * 1e-9) break;
    ticks.push_back(std::abs(tick) < step * 1e-9 ? 0 : tick);
  }
  return ticks;
}

std::string XyChartSvg(const XyChart& chart) {
  std::vector<double> xs, ys;
  for (const ChartSeries& s : chart.series) {
    xs.insert(xs.end(), s.x.begin(), s.x.end());
    ys.insert(ys.end(), s.y.begin(), s.y.end());
  }
  if (chart.y_rule) ys.push_back(*chart.y_rule);
  const auto x_range = chart.x_range ? *chart.x_range : NiceRange(RangeOf(xs));
  const auto y_range = chart.y_range ? *chart.y_range : NiceRange(RangeOf(ys));

  // The legend's entries: named series, then the reference line.
  std::vector<std::pair<std::string, size_t>> legend;  // text, series index (npos: diagonal)
  for (size_t i = 0; i < chart.series.size(); ++i)
    if (!chart.series[i].name.empty()) legend.emplace_back(chart.series[i].name, i);
  if (chart.diagonal) legend.emplace_back(*chart.diagonal, std::string::npos);
  size_t legend_chars = 0;
  for (const auto& [text, _] : legend) legend_chars = std::max(legend_chars, text.size());
  const double legend_width = legend.empty() ? 0 : 40 + kCharWidth * legend_chars;

  const double plot = 420;  // the plot area's side
  const double left = 72, top = 44, bottom = 56, right = 24;
  const double width = left + plot + right + legend_width;
  const double height = top + plot + bottom;
  const Scale x{x_range.first, x_range.second, left, left + plot};
  const Scale y{y_range.first, y_range.second, top + plot, top};

  std::string svg;
  Header(svg, width, height, chart.title);
  // Grid and ticks.
  const std::vector<double> x_ticks = NiceTicks(x_range.first, x_range.second);
  const std::vector<double> y_ticks = NiceTicks(y_range.first, y_range.second);
  const double x_step = x_ticks.size() > 1 ? x_ticks[1] - x_ticks[0] : 1;
  const double y_step = y_ticks.size() > 1 ? y_ticks[1] - y_ticks[0] : 1;
  svg += "<g class=\"grid\" stroke=\"#e5e5e5\" stroke-width=\"1\">\n";
  for (double t : x_ticks)
    svg += fmt::format("<line x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{0:.2f}\" y2=\"{2:.2f}\"/>\n",
                       x(t), top, top + plot);
  for (double t : y_ticks)
    svg += fmt::format("<line x1=\"{1:.2f}\" y1=\"{0:.2f}\" x2=\"{2:.2f}\" y2=\"{0:.2f}\"/>\n",
                       y(t), left, left + plot);
  svg += "</g>\n";
  svg += fmt::format(
      "<rect class=\"frame\" x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" "
      "fill=\"none\" stroke=\"#444\"/>\n",
      left, top, plot, plot);
  svg += "<g class=\"x-ticks\" fill=\"#333\" text-anchor=\"middle\">\n";
  for (double t : x_ticks) {
    svg += fmt::format(
        "<line x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{0:.2f}\" y2=\"{2:.2f}\" stroke=\"#444\"/>"
        "<text x=\"{0:.2f}\" y=\"{3:.2f}\">{4}</text>\n",
        x(t), top + plot, top + plot + 5, top + plot + 19, TickText(t, x_step));
  }
  svg += "</g>\n<g class=\"y-ticks\" fill=\"#333\" text-anchor=\"end\">\n";
  for (double t : y_ticks) {
    svg += fmt::format(
        "<line x1=\"{1:.2f}\" y1=\"{0:.2f}\" x2=\"{2:.2f}\" y2=\"{0:.2f}\" stroke=\"#444\"/>"
        "<text x=\"{3:.2f}\" y=\"{4:.2f}\">{5}</text>\n",
        y(t), left - 5, left, left - 8, y(t) + 4, TickText(t, y_step));
  }
  svg += "</g>\n";
  svg += fmt::format(
      "<text class=\"x-label\" x=\"{:.2f}\" y=\"{:.2f}\" text-anchor=\"middle\" "
      "font-size=\"13\" fill=\"#222\">{}</text>\n",
      left + plot / 2, top + plot + 42, EscapeMarkup(chart.x_label));
  svg += fmt::format(
      "<text class=\"y-label\" x=\"{0:.2f}\" y=\"{1:.2f}\" text-anchor=\"middle\" "
      "font-size=\"13\" fill=\"#222\" transform=\"rotate(-90 {0:.2f} {1:.2f})\">{2}</text>\n",
      18.0, top + plot / 2, EscapeMarkup(chart.y_label));

  // Data, clipped to the plot area.
  svg += fmt::format(
      "<defs><clipPath id=\"plot\"><rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" "
      "height=\"{:.2f}\"/></clipPath></defs>\n<g clip-path=\"url(#plot)\">\n",
      left - 4, top - 4, plot + 8, plot + 8);  // a line on the frame is drawn whole
  auto inside = [](double v, double lo, double hi) { return std::isfinite(v) && lo <= hi; };
  if (chart.diagonal) {
    const double lo = std::max(x_range.first, y_range.first);
    const double hi = std::min(x_range.second, y_range.second);
    if (inside(lo, lo, hi)) {
      svg += fmt::format(
          "<line class=\"reference\" x1=\"{:.2f}\" y1=\"{:.2f}\" x2=\"{:.2f}\" y2=\"{:.2f}\" "
          "stroke=\"#888\" stroke-dasharray=\"5,4\"/>\n",
          x(lo), y(lo), x(hi), y(hi));
    }
  }
  if (chart.y_rule) {
    svg += fmt::format(
        "<line class=\"reference\" x1=\"{:.2f}\" y1=\"{:.2f}\" x2=\"{:.2f}\" y2=\"{:.2f}\" "
        "stroke=\"#888\" stroke-dasharray=\"5,4\"/>\n",
        left, y(*chart.y_rule), left + plot, y(*chart.y_rule));
  }
  for (size_t i = 0; i < chart.series.size(); ++i) {
    const ChartSeries& s = chart.series[i];
    const char* color = kColors[i % kColorCount];
    const size_t n = std::min(s.x.size(), s.y.size());
    if (s.style != ChartSeries::Style::kPoints) {
      std::string points;
      for (size_t k = 0; k < n; ++k) {
        if (!std::isfinite(s.x[k]) || !std::isfinite(s.y[k])) continue;
        points += fmt::format("{}{:.2f},{:.2f}", points.empty() ? "" : " ", x(s.x[k]), y(s.y[k]));
      }
      svg += fmt::format(
          "<polyline class=\"series\" data-name=\"{}\" points=\"{}\" fill=\"none\" "
          "stroke=\"{}\" stroke-width=\"2\" stroke-linejoin=\"round\"/>\n",
          EscapeMarkup(s.name), points, color);
    }
    if (s.style != ChartSeries::Style::kLine) {
      const bool many = n > 200;
      svg += fmt::format("<g class=\"points\" data-name=\"{}\" fill=\"{}\" fill-opacity=\"{}\">\n",
                         EscapeMarkup(s.name), color, many ? "0.45" : "0.8");
      for (size_t k = 0; k < n; ++k) {
        if (!std::isfinite(s.x[k]) || !std::isfinite(s.y[k])) continue;
        svg += fmt::format("<circle cx=\"{:.2f}\" cy=\"{:.2f}\" r=\"{}\"/>\n", x(s.x[k]), y(s.y[k]),
                           many ? "2" : "3.5");
      }
      svg += "</g>\n";
    }
  }
  svg += "</g>\n";

  if (!legend.empty()) {
    const double lx = left + plot + 16, ly = top + 8;
    svg += "<g class=\"legend\" fill=\"#222\">\n";
    for (size_t k = 0; k < legend.size(); ++k) {
      const double row = ly + 20.0 * static_cast<double>(k);
      const size_t series = legend[k].second;
      if (series == std::string::npos) {
        svg += fmt::format(
            "<line x1=\"{:.2f}\" y1=\"{:.2f}\" x2=\"{:.2f}\" y2=\"{:.2f}\" stroke=\"#888\" "
            "stroke-dasharray=\"5,4\"/>",
            lx, row, lx + 24, row);
      } else if (chart.series[series].style == ChartSeries::Style::kPoints) {
        svg += fmt::format("<circle cx=\"{:.2f}\" cy=\"{:.2f}\" r=\"4\" fill=\"{}\"/>", lx + 12,
                           row, kColors[series % kColorCount]);
      } else {
        svg += fmt::format(
            "<line x1=\"{:.2f}\" y1=\"{:.2f}\" x2=\"{:.2f}\" y2=\"{:.2f}\" stroke=\"{}\" "
            "stroke-width=\"2\"/>",
            lx, row, lx + 24, row, kColors[series % kColorCount]);
      }
      svg += fmt::format("<text x=\"{:.2f}\" y=\"{:.2f}\">{}</text>\n", lx + 30, row + 4,
                         EscapeMarkup(legend[k].first));
    }
    svg += "</g>\n";
  }
  svg += "</svg>\n";
  return svg;
}

std::string BarChartSvg(const BarChart& chart) {
  constexpr size_t kMaxLabel = 40;
  size_t label_chars = 0;
  std::vector<std::string> labels;
  for (const Bar& bar : chart.bars) {
    std::string label = bar.label;
    if (label.size() > kMaxLabel) label = label.substr(0, kMaxLabel - 3) + "...";
    label_chars = std::max(label_chars, label.size());
    labels.push_back(std::move(label));
  }
  const double bar_height = 18, gap = 6, plot_width = 420;
  const double left = 16 + kCharWidth * static_cast<double>(label_chars) + 8;
  const double top = 44, bottom = 56, right = 72;
  const double plot_height =
      std::max(1.0, static_cast<double>(chart.bars.size())) * (bar_height + gap) + gap;
  const double width = left + plot_width + right;
  const double height = top + plot_height + bottom;

  std::vector<double> values{0};
  for (const Bar& bar : chart.bars) values.push_back(bar.value);
  auto range = RangeOf(values);
  if (range.first == -0.5 && range.second == 0.5) range = {0, 1};  // all zero
  range = NiceRange(range);
  const Scale x{range.first, range.second, left, left + plot_width};
  const std::vector<double> ticks = NiceTicks(range.first, range.second);
  const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1;

  std::string svg;
  Header(svg, width, height, chart.title);
  svg += "<g class=\"grid\" stroke=\"#e5e5e5\">\n";
  for (double t : ticks)
    svg += fmt::format("<line x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{0:.2f}\" y2=\"{2:.2f}\"/>\n",
                       x(t), top, top + plot_height);
  svg += "</g>\n<g class=\"x-ticks\" fill=\"#333\" text-anchor=\"middle\">\n";
  for (double t : ticks) {
    svg += fmt::format(
        "<line x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{0:.2f}\" y2=\"{2:.2f}\" stroke=\"#444\"/>"
        "<text x=\"{0:.2f}\" y=\"{3:.2f}\">{4}</text>\n",
        x(t), top + plot_height, top + plot_height + 5, top + plot_height + 19, TickText(t, step));
  }
  svg += "</g>\n";
  svg += fmt::format(
      "<line x1=\"{:.2f}\" y1=\"{:.2f}\" x2=\"{:.2f}\" y2=\"{:.2f}\" stroke=\"#444\"/>\n", left,
      top + plot_height, left + plot_width, top + plot_height);
  svg += "<g class=\"bars\">\n";
  for (size_t i = 0; i < chart.bars.size(); ++i) {
    const double value = std::isfinite(chart.bars[i].value) ? chart.bars[i].value : 0;
    const double y0 = top + gap + static_cast<double>(i) * (bar_height + gap);
    const double a = x(std::min(0.0, value)), b = x(std::max(0.0, value));
    svg += fmt::format(
        "<text x=\"{:.2f}\" y=\"{:.2f}\" text-anchor=\"end\" fill=\"#222\">{}</text>"
        "<rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" fill=\"{}\">"
        "<title>{}: {:.6g}</title></rect>"
        "<text x=\"{:.2f}\" y=\"{:.2f}\" font-size=\"10\" fill=\"#555\">{:.4g}</text>\n",
        left - 8, y0 + bar_height / 2 + 4, EscapeMarkup(labels[i]), a, y0, std::max(0.5, b - a),
        bar_height, value < 0 ? kColors[2] : kColors[0], EscapeMarkup(chart.bars[i].label), value,
        b + 4, y0 + bar_height / 2 + 4, value);
  }
  svg += "</g>\n";
  if (range.first < 0) {
    svg += fmt::format(
        "<line x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{0:.2f}\" y2=\"{2:.2f}\" stroke=\"#444\"/>\n",
        x(0), top, top + plot_height);
  }
  svg += fmt::format(
      "<text class=\"x-label\" x=\"{:.2f}\" y=\"{:.2f}\" text-anchor=\"middle\" "
      "font-size=\"13\" fill=\"#222\">{}</text>\n",
      left + plot_width / 2, top + plot_height + 42, EscapeMarkup(chart.x_label));
  svg += "</svg>\n";
  return svg;
}

}  // namespace slipway::training
