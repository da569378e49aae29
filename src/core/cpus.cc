#include "core/cpus.h"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace slipway::core {

int CoresOfCpuMax(std::string_view text) {
  const size_t space = text.find(' ');
  if (space == std::string_view::npos) return 0;
  const std::string_view quota_text = text.substr(0, space);
  std::string_view period_text = text.substr(space + 1);
  while (!period_text.empty() && (period_text.back() == '\n' || period_text.back() == ' '))
    period_text.remove_suffix(1);
  long long quota = 0;
  long long period = 0;
  auto parse = [](std::string_view s, long long* out) {
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return ec == std::errc() && end == s.data() + s.size() && *out > 0;
  };
  if (!parse(quota_text, &quota) || !parse(period_text, &period)) return 0;  // "max", or junk
  return static_cast<int>((quota + period - 1) / period);
}

int UsableCores() {
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) cores = std::max(1, CPU_COUNT(&set));
  // The process's own cgroup (v2: one line "0::/path").
  std::ifstream cgroup("/proc/self/cgroup");
  std::string line;
  while (std::getline(cgroup, line)) {
    if (line.rfind("0::", 0) != 0) continue;
    std::ifstream max("/sys/fs/cgroup" + line.substr(3) + "/cpu.max");
    std::stringstream text;
    text << max.rdbuf();
    const int quota = CoresOfCpuMax(text.str());
    if (quota > 0) cores = std::min(cores, quota);
    break;
  }
  return cores;
}

}  // namespace slipway::core
