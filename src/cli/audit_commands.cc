#include "cli/audit_commands.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "cli/api_client.h"
#include "cli/cli_support.h"
#include "cli/table.h"
#include "core/error.h"
#include "governance/audit_log.h"
#include "store/metadata_store.h"

namespace slipway::cli {
namespace {

using nlohmann::json;
using Align = Table::Align;

constexpr std::string_view kAuditEndpoint = "/api/v1/audit";
constexpr std::string_view kVerifyEndpoint = "/api/v1/audit/verify";
constexpr size_t kPageSize = 100;
constexpr std::string_view kTimeHelp =
    "milliseconds since the epoch, or ISO-8601 such as 2024-05-01T12:00:00Z (UTC when no "
    "offset is given)";

// --- Times: given as epoch milliseconds or ISO-8601, shown as ISO-8601 UTC.

// Reads exactly `digits` decimal digits at `pos`.
bool ReadDigits(std::string_view text, size_t& pos, size_t digits, int& value) {
  if (pos + digits > text.size()) return false;
  value = 0;
  for (size_t i = 0; i < digits; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += digits;
  return true;
}

bool Consume(std::string_view text, size_t& pos, std::string_view any_of) {
  if (pos >= text.size() || any_of.find(text[pos]) == std::string_view::npos) return false;
  ++pos;
  return true;
}

// "YYYY-MM-DD[(T| )hh:mm[:ss[.fff]]][Z|±hh[:mm]]" as milliseconds since the epoch; a time
// without an offset is UTC.
std::optional<int64_t> ParseIsoTime(std::string_view text) {
  using namespace std::chrono;
  size_t pos = 0;
  int y = 0, mo = 0, d = 0;
  if (!ReadDigits(text, pos, 4, y) || !Consume(text, pos, "-") || !ReadDigits(text, pos, 2, mo) ||
      !Consume(text, pos, "-") || !ReadDigits(text, pos, 2, d)) {
    return std::nullopt;
  }
  year_month_day date{year(y), month(static_cast<unsigned>(mo)), day(static_cast<unsigned>(d))};
  if (!date.ok()) return std::nullopt;
  int64_t millis = duration_cast<milliseconds>(sys_days(date).time_since_epoch()).count();

  if (Consume(text, pos, "Tt ")) {
    int hours = 0, minutes = 0, seconds = 0;
    if (!ReadDigits(text, pos, 2, hours) || !Consume(text, pos, ":") ||
        !ReadDigits(text, pos, 2, minutes)) {
      return std::nullopt;
    }
    if (Consume(text, pos, ":") && !ReadDigits(text, pos, 2, seconds)) return std::nullopt;
    if (hours > 23 || minutes > 59 || seconds > 59) return std::nullopt;
    millis += ((hours * 60 + minutes) * 60 + seconds) * int64_t{1000};
    if (Consume(text, pos, ".,")) {
      size_t first = pos;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
      if (pos == first) return std::nullopt;
      std::string_view digits = text.substr(first, pos - first);
      int fraction_millis = 0;
      for (size_t i = 0; i < 3; ++i) {
        fraction_millis = fraction_millis * 10 + (i < digits.size() ? digits[i] - '0' : 0);
      }
      millis += fraction_millis;
    }
  }

  if (Consume(text, pos, "Zz")) {
    // UTC.
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int sign = text[pos++] == '-' ? -1 : 1;
    int offset_hours = 0, offset_minutes = 0;
    if (!ReadDigits(text, pos, 2, offset_hours)) return std::nullopt;
    if (pos < text.size()) {
      Consume(text, pos, ":");
      if (!ReadDigits(text, pos, 2, offset_minutes)) return std::nullopt;
    }
    if (offset_hours > 23 || offset_minutes > 59) return std::nullopt;
    millis -= sign * (offset_hours * 60 + offset_minutes) * int64_t{60'000};
  }
  if (pos != text.size()) return std::nullopt;
  return millis;
}

// The value of --since or --until as epoch milliseconds.
int64_t ParseTimeOption(std::string_view option, const std::string& text) {
  bool all_digits = !text.empty() && std::all_of(text.begin(), text.end(),
                                                 [](char c) { return c >= '0' && c <= '9'; });
  std::optional<int64_t> millis = all_digits ? ParseInt64(text) : ParseIsoTime(text);
  if (!millis) ThrowInvalid(fmt::format("{} '{}': expected {}", option, text, kTimeHelp));
  return *millis;
}

// Epoch milliseconds as ISO-8601 UTC with milliseconds, "2024-05-01T12:00:00.000Z".
std::string FormatTimeWithMillis(std::optional<int64_t> millis) {
  if (!millis) return "";
  int64_t seconds = *millis / 1000;
  int64_t fraction = *millis % 1000;
  if (fraction < 0) {
    seconds -= 1;
    fraction += 1000;
  }
  std::time_t as_time_t = static_cast<std::time_t>(seconds);
  std::tm utc{};
  gmtime_r(&as_time_t, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  return fmt::format("{}.{:03}Z", text, fraction);
}

// --- audit ls

// The outcome, and how many requests the entry stands for when more than one:
// "401 x57".
std::string OutcomeCell(const json& entry) {
  std::string outcome = StringField(entry, "outcome");
  int64_t count = Int64Field(entry, "count").value_or(1);
  return count == 1 ? outcome : fmt::format("{} x{}", outcome, count);
}

struct AuditLsOptions {
  std::string tracking_uri;
  std::string since;
  std::string until;
  std::string principal;
  std::string action;
  std::string target;
  size_t max = 100;
  bool json = false;
};

void AuditLs(const AuditLsOptions& options) {
  ApiClient::QueryParams filters;
  if (!options.since.empty()) {
    filters.emplace_back("since", std::to_string(ParseTimeOption("--since", options.since)));
  }
  if (!options.until.empty()) {
    filters.emplace_back("until", std::to_string(ParseTimeOption("--until", options.until)));
  }
  if (!options.principal.empty()) filters.emplace_back("principal", options.principal);
  if (!options.action.empty()) filters.emplace_back("action", options.action);
  if (!options.target.empty()) filters.emplace_back("target", options.target);

  ApiClient client(ResolveTrackingUri(options.tracking_uri));
  json entries = json::array();
  std::string token;
  bool more = false;
  while (entries.size() < options.max) {
    ApiClient::QueryParams query = filters;
    query.emplace_back("max_results",
                       std::to_string(std::min(kPageSize, options.max - entries.size())));
    if (!token.empty()) query.emplace_back("page_token", token);
    json reply = client.Get(kAuditEndpoint, query);
    const json& page = Field(reply, "entries");
    if (page.is_array()) {
      for (const json& entry : page) entries.push_back(entry);
    }
    std::string next = StringField(reply, "next_page_token");
    more = !next.empty() && next != token;
    if (!more) break;
    token = std::move(next);
  }
  if (entries.size() > options.max) {
    entries.erase(entries.begin() + static_cast<std::ptrdiff_t>(options.max), entries.end());
    more = true;
  }

  if (options.json) {
    PrintJson({{"entries", entries}});
  } else {
    Table table({{"SEQ", Align::kRight, false},
                 {"TIME", Align::kLeft, false},
                 {"PRINCIPAL"},
                 {"ACTION"},
                 {"TARGET"},
                 {"OUTCOME", Align::kRight, false}});
    for (const json& entry : entries) {
      table.AddRow({StringField(entry, "seq"), FormatTimeWithMillis(Int64Field(entry, "time_ms")),
                    StringField(entry, "principal"), StringField(entry, "action"),
                    StringField(entry, "target"), OutcomeCell(entry)});
    }
    table.Print(std::cout, StdoutTerminalWidth());
  }
  if (more) {
    std::cerr << fmt::format(
        "(the first {} entries; more match: raise --max or narrow with --since/--until)\n",
        entries.size());
  }
}

// --- audit verify

struct AuditVerifyOptions {
  std::string tracking_uri;
  std::string store;
  bool json = false;
};

governance::AuditReport ReportFromJson(const json& reply) {
  governance::AuditReport report;
  const json& ok = Field(reply, "ok");
  if (!ok.is_boolean()) {
    throw Error(ErrorCode::kInternalError, "the server's audit verification reply has no \"ok\"");
  }
  report.ok = ok.get<bool>();
  report.entries = Int64Field(reply, "entries").value_or(0);
  const json& problems = Field(reply, "problems");
  if (problems.is_array()) {
    for (const json& problem : problems) {
      report.problems.push_back({Int64Field(problem, "seq").value_or(0),
                                 StringField(problem, "kind"), StringField(problem, "message")});
    }
  }
  return report;
}

json ReportToJson(const governance::AuditReport& report) {
  json problems = json::array();
  for (const governance::AuditProblem& problem : report.problems) {
    problems.push_back(
        {{"seq", problem.seq}, {"kind", problem.kind}, {"message", problem.message}});
  }
  return {{"ok", report.ok}, {"entries", report.entries}, {"problems", problems}};
}

void AuditVerify(const AuditVerifyOptions& options) {
  governance::AuditReport report;
  json shown;
  if (!options.store.empty()) {
    // Opening a path that does not exist would create an empty store and
    // call it intact. (A PostgreSQL database is opened as it is: connecting
    // to one that does not exist fails with the server's message.)
    if (!store::IsPostgresStoreUri(options.store)) {
      std::string path = SqlitePath(options.store);
      std::error_code error;
      if (!std::filesystem::is_regular_file(path, error)) {
        ThrowNotFound(fmt::format("no metadata store at '{}'", path));
      }
    }
    std::unique_ptr<store::MetadataStores> stores = store::OpenMetadataStore(options.store);
    report = governance::AuditLog(*stores->audit).Verify();
    shown = ReportToJson(report);
  } else {
    ApiClient client(ResolveTrackingUri(options.tracking_uri));
    shown = client.Get(kVerifyEndpoint);
    report = ReportFromJson(shown);
  }

  bool intact = report.ok && report.problems.empty();
  if (options.json) {
    PrintJson(shown);
  } else if (intact) {
    std::cout << fmt::format("audit trail intact: {} {}\n", report.entries,
                             report.entries == 1 ? "entry" : "entries");
  } else {
    for (const governance::AuditProblem& problem : report.problems) {
      std::cout << fmt::format("entry {}: {} — {}\n", problem.seq, problem.kind, problem.message);
    }
    std::cout << fmt::format("audit trail NOT intact: {} {} among {} {}\n", report.problems.size(),
                             report.problems.size() == 1 ? "problem" : "problems", report.entries,
                             report.entries == 1 ? "entry" : "entries");
  }
  // Exit 1 with nothing more to say: main() returns the code of a CLI::RuntimeError silently.
  if (!intact) throw CLI::RuntimeError(1);
}

}  // namespace

void AddAuditCommands(CLI::App& app) {
  CLI::App* audit = app.add_subcommand("audit", "Inspect and verify the audit trail");
  audit->require_subcommand(1);

  auto ls_options = std::make_shared<AuditLsOptions>();
  CLI::App* ls = audit->add_subcommand("ls", "List audit entries, oldest first");
  AddTrackingUriOption(ls, &ls_options->tracking_uri);
  ls->add_option("--since", ls_options->since,
                 fmt::format("Entries at or after this time: {}", kTimeHelp));
  ls->add_option("--until", ls_options->until,
                 "Entries at or before this time, given as for --since");
  ls->add_option("--principal", ls_options->principal, "Only this principal's entries");
  ls->add_option("--action", ls_options->action, "Only this action, e.g. runs/log-metric");
  ls->add_option("--target", ls_options->target, "Only this target, e.g. run:<run_id>");
  ls->add_option("--max", ls_options->max, "Most entries to list")
      ->check(CLI::Range(1, 10'000'000))
      ->capture_default_str();
  ls->add_flag("--json", ls_options->json, "Print the server's JSON entries");
  ls->callback([ls_options] { AuditLs(*ls_options); });

  auto verify_options = std::make_shared<AuditVerifyOptions>();
  CLI::App* verify = audit->add_subcommand(
      "verify", "Check the audit trail's hash chain; exit 1 naming each damaged entry");
  CLI::Option* uri = AddTrackingUriOption(verify, &verify_options->tracking_uri);
  verify
      ->add_option("--store", verify_options->store,
                   "Verify the metadata store at sqlite:///PATH or postgresql://... directly, "
                   "not through a server")
      ->excludes(uri);
  verify->add_flag("--json", verify_options->json,
                   "Print the report as JSON: {\"ok\", \"entries\", \"problems\"}");
  verify->callback([verify_options] { AuditVerify(*verify_options); });
}

}  // namespace slipway::cli
