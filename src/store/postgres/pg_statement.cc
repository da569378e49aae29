#include "store/postgres/pg_statement.h"

#include <charconv>
#include <cmath>

namespace slipway::store::postgres {

std::string NumberPlaceholders(std::string_view sql, int* count) {
  std::string out;
  out.reserve(sql.size() + 16);
  int next = 0, highest = 0;
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
    if (c != '?') {
      out += c;
      continue;
    }
    size_t digits = i + 1;
    while (digits < sql.size() && sql[digits] >= '0' && sql[digits] <= '9') ++digits;
    int number = ++next;
    if (digits > i + 1) {
      std::from_chars(sql.data() + i + 1, sql.data() + digits, number);
      i = digits - 1;
    }
    highest = std::max(highest, number);
    out += "$" + std::to_string(number);
  }
  // Placeholders already in PostgreSQL's form ($n, from SqlDialect::Postgres()).
  for (size_t i = 0; i + 1 < out.size(); ++i) {
    if (out[i] != '$' || out[i + 1] < '0' || out[i + 1] > '9') continue;
    int number = 0;
    std::from_chars(out.data() + i + 1, out.data() + out.size(), number);
    highest = std::max(highest, number);
  }
  *count = highest;
  return out;
}

PgStatement::PgStatement(PgSession& session, const std::string& sql) : session_(session) {
  sql_ = NumberPlaceholders(sql, &placeholders_);
  values_.resize(placeholders_);
}

PgStatement& PgStatement::Bind(int index, int64_t value) {
  values_.at(index - 1) = std::to_string(value);
  return *this;
}

PgStatement& PgStatement::Bind(int index, double value) {
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
  values_.at(index - 1) = std::string(value);
  return *this;
}

PgStatement& PgStatement::BindNull(int index) {
  values_.at(index - 1).reset();
  return *this;
}

PgStatement& PgStatement::BindVariant(int index,
                                      const std::variant<int64_t, double, std::string>& value) {
  std::visit([&](const auto& v) { Bind(index, v); }, value);
  return *this;
}

void PgStatement::Execute() {
  PgParams params;
  for (const std::optional<std::string>& value : values_) {
    if (value) {
      params.AddUntyped(*value);
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
