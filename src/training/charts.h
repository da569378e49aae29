// Charts of an evaluation as SVG text, written by hand: an x/y chart (lines
// or points, e.g. ROC, PR and calibration curves, a residual plot) and a
// horizontal bar chart (feature importance, mean |SHAP|).
//
// Every chart has a title, axes with "nice" ticks (1, 2 or 5 times a power
// of ten) and grid lines, axis labels and, with more than one series or a
// named one, a legend; so a chart reads on its own in a browser or in the
// run's artifact view. Texts are XML-escaped. Non-finite values are left
// out. Scatter series of many points are drawn whole: the caller bounds them.
//
// Why by hand: Debian packages no C++ plotting library that writes SVG
// without a display stack, and these are a few hundred lines.
//
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace slipway::training {

struct ChartSeries {
  enum class Style { kLine, kPoints, kLinePoints };
  std::string name;  // the legend's text; "" draws no legend entry
  std::vector<double> x;
  std::vector<double> y;  // as many as x
  Style style = Style::kLine;
};

struct XyChart {
  std::string title;
  std::string x_label;
  std::string y_label;
  // The axes' ranges; from the data (widened to nice ticks) when unset.
  std::optional<std::pair<double, double>> x_range;
  std::optional<std::pair<double, double>> y_range;
  std::vector<ChartSeries> series;
  // A dashed reference line: y = x (ROC's chance line, perfect calibration).
  std::optional<std::string> diagonal;  // its legend text
  // A dashed horizontal reference line at this y (a residual plot's 0).
  std::optional<double> y_rule;
};

std::string XyChartSvg(const XyChart& chart);

struct Bar {
  std::string label;
  double value = 0;
};

struct BarChart {
  std::string title;
  std::string x_label;
  std::vector<Bar> bars;  // drawn top to bottom in this order
};

// Bars grow from 0 to the right (negative values to the left of 0, as
// linear coefficients can be).
std::string BarChartSvg(const BarChart& chart);

// Ticks for [low, high]: about `target` nice values covering the range.
std::vector<double> NiceTicks(double low, double high, int target = 5);

}  // namespace slipway::training
