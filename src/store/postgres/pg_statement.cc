#include "store/postgres/pg_statement.h"

#include <charconv>
#include <cmath>

namespace slipway::store::postgres {

namespace {

// Calls `on_dollar(number, begin, end)` for each $N and `on_question(digits,
// begin, end)` for each ? or ?N outside quotes; copies the rest to `out`.
template <typename Dollar, typename Question>
std::string Rewrite(std::string_view sql, Dollar on_dollar, Question on_question) {
  std::string out;
  out.reserve(sql.size() + 16);
  char quote = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (quote) {
      out += c;
      if (c == quote) quote = 0;  // a doubled quote closes and reopens: same text
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      out += c;
      continue;
    }
    if (c != '?' && c != '$') {
      out += c;
      continue;
    }
    size_t end = i + 1;
    while (end < sql.size() && sql[end] >= '0' && sql[end] <= '9') ++end;
    if (c == '$' && end == i + 1) {
      out += c;
      continue;
    }
    int number = 0;
    std::from_chars(sql.data() + i + 1, sql.data() + end, number);
    out += c == '$' ? on_dollar(number) : on_question(end > i + 1 ? number : 0);
    i = end - 1;
  }
  return out;
}

}  // namespace

std::string NumberPlaceholders(std::string_view sql, int* count) {
  int highest = 0;
  Rewrite(
      sql,
      [&](int n) {
        highest = std::max(highest, n);
        return std::string();
      },
      [](int) { return std::string(); });
  const int first_free = highest;
  int next = first_free;
  std::string out = Rewrite(
      sql, [](int n) { return "$" + std::to_string(n); },
      [&](int n) {
        int number = n > 0 ? first_free + n : ++next;
        highest = std::max(highest, number);
        return "$" + std::to_string(number);
      });
  *count = highest;
  return out;
}

std::string ShiftPlaceholders(std::string_view sql, int by) {
  return Rewrite(
      sql, [&](int n) { return "$" + std::to_string(n + by); },
      [](int n) { return n > 0 ? "?" + std::to_string(n) : std::string("?"); });
}

PgStatement::PgStatement(PgSession& session, const std::string& sql) : session_(session) {
  sql_ = NumberPlaceholders(sql, &placeholders_);
  values_.resize(placeholders_);
  typed_.resize(placeholders_);
}

PgStatement& PgStatement::Bind(int index, int64_t value) {
  typed_.at(index - 1).reset();
  values_.at(index - 1) = std::to_string(value);
  return *this;
}

PgStatement& PgStatement::Bind(int index, double value) {
  typed_.at(index - 1).reset();
  if (std::isnan(value)) {
    values_.at(index - 1) = "NaN";
  } else if (std::isinf(value)) {
    values_.at(index - 1) = value > 0 ? "Infinity" : "-Infinity";
  } else {
    char buffer[32];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    values_.at(index - 1) = std::string(buffer, end);
  }
  return *this;
}

PgStatement& PgStatement::Bind(int index, std::string_view value) {
  typed_.at(index - 1).reset();
  values_.at(index - 1) = std::string(value);
  return *this;
}

PgStatement& PgStatement::BindNull(int index) {
  typed_.at(index - 1).reset();
  values_.at(index - 1).reset();
  return *this;
}

PgStatement& PgStatement::BindVariant(int index,
                                      const std::variant<int64_t, double, std::string>& value) {
  values_.at(index - 1).reset();
  typed_.at(index - 1) = value;
  return *this;
}

void PgStatement::Execute() {
  PgParams params;
  for (size_t i = 0; i < values_.size(); ++i) {
    if (typed_[i]) {
      std::visit([&](const auto& v) { params.Add(v); }, *typed_[i]);
    } else if (values_[i]) {
      params.AddUntyped(*values_[i]);
    } else {
      params.AddNull(PgType::kUnknown);
    }
  }
  result_.emplace(session_.connection_.Exec(sql_, params));
  session_.changes_ = result_->Affected();
  row_ = -1;
}

bool PgStatement::Step() {
  if (!result_) Execute();
  if (row_ + 1 >= result_->Rows()) return false;
  ++row_;
  return true;
}

void PgStatement::Run() {
  Execute();
  result_.reset();
}

void PgStatement::Reset() {
  result_.reset();
  row_ = -1;
}

int64_t PgStatement::Int(int column) const {
  std::string_view text = result_->Text(row_, column);
  if (text == "t") return 1;  // a BOOLEAN column
  if (text == "f") return 0;
  return result_->Int(row_, column);
}

double PgStatement::Double(int column) const { return result_->Double(row_, column); }

}  // namespace slipway::store::postgres
