// The commit checked out in the git working tree that holds a folder, read
// from the .git folder itself (no git program needed): HEAD, a branch's
// loose ref or packed-refs, linked worktrees (a .git file naming the git
// folder, and its commondir) included. Says nothing of uncommitted changes.
//
// Reads the user's own files; thread-safe.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace slipway::cli {

// The 40-hex commit of the working tree at or above `dir`; nullopt when
// there is none, or its HEAD names a branch with no commit yet.
std::optional<std::string> GitCommitOf(const std::filesystem::path& dir);

}  // namespace slipway::cli
