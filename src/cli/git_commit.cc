#include "cli/git_commit.h"

#include <fstream>
#include <sstream>

namespace slipway::cli {
namespace {

namespace fs = std::filesystem;

std::optional<std::string> ReadFirstLine(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

bool IsCommit(const std::string& text) {
  if (text.size() != 40 && text.size() != 64) return false;  // SHA-1 or SHA-256 repositories
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// The git folder of the working tree at `root` (root/.git, a folder or a
// file "gitdir: <path>").
std::optional<fs::path> GitDirOf(const fs::path& root) {
  const fs::path dot_git = root / ".git";
  std::error_code ec;
  if (fs::is_directory(dot_git, ec)) return dot_git;
  if (!fs::is_regular_file(dot_git, ec)) return std::nullopt;
  const auto line = ReadFirstLine(dot_git);
  const std::string prefix = "gitdir: ";
  if (!line || line->rfind(prefix, 0) != 0) return std::nullopt;
  fs::path dir = line->substr(prefix.size());
  return dir.is_absolute() ? dir : root / dir;
}

std::optional<std::string> ResolveRef(const fs::path& git_dir, const fs::path& common_dir,
                                      const std::string& ref) {
  for (const fs::path& base : {git_dir, common_dir}) {
    if (auto loose = ReadFirstLine(base / ref); loose && IsCommit(*loose)) return loose;
  }
  std::ifstream packed(common_dir / "packed-refs");
  std::string line;
  while (std::getline(packed, line)) {
    if (line.empty() || line[0] == '#' || line[0] == '^') continue;
    const size_t space = line.find(' ');
    if (space != std::string::npos && line.substr(space + 1) == ref &&
        IsCommit(line.substr(0, space)))
      return line.substr(0, space);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> GitCommitOf(const fs::path& dir) {
  std::error_code ec;
  fs::path at = fs::weakly_canonical(fs::absolute(dir.empty() ? fs::path(".") : dir, ec), ec);
  if (ec) return std::nullopt;
  for (;;) {
    if (const auto git_dir = GitDirOf(at)) {
      fs::path common_dir = *git_dir;
      if (const auto common = ReadFirstLine(*git_dir / "commondir")) {
        const fs::path c = *common;
        common_dir = c.is_absolute() ? c : *git_dir / c;
      }
      const auto head = ReadFirstLine(*git_dir / "HEAD");
      if (!head) return std::nullopt;
      if (IsCommit(*head)) return head;  // detached
      const std::string prefix = "ref: ";
      if (head->rfind(prefix, 0) != 0) return std::nullopt;
      return ResolveRef(*git_dir, common_dir, head->substr(prefix.size()));
    }
    if (!at.has_parent_path() || at.parent_path() == at) return std::nullopt;
    at = at.parent_path();
  }
}

}  // namespace slipway::cli
