#include "postgres_test_cluster.h"

#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "store/postgres/pg_db.h"

namespace slipway::testing {
namespace {

namespace fs = std::filesystem;

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

fs::path FindPostgresBin() {
  if (const char* bin = std::getenv("SLIPWAY_POSTGRES_BIN")) return bin;
  fs::path best;
  int best_version = -1;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    int version = std::atoi(entry.path().filename().c_str());
    if (version > best_version && fs::exists(entry.path() / "bin" / "initdb")) {
      best_version = version;
      best = entry.path() / "bin";
    }
  }
  return best;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A cluster started by this program; stopped when the program exits.
class Cluster {
 public:
  // "" on success, else why not.
  std::string Start() {
    fs::path bin = FindPostgresBin();
    if (bin.empty()) {
      return "no initdb in /usr/lib/postgresql/*/bin (install Debian's postgresql package, "
             "or set SLIPWAY_TEST_POSTGRES_URI or SLIPWAY_POSTGRES_BIN)";
    }
    char folder[] = "/tmp/slipway-pg-unit-XXXXXX";
    if (::mkdtemp(folder) == nullptr) return "mkdtemp failed";
    root_ = folder;
    std::string as_user;
    if (::geteuid() == 0) {
      passwd* postgres = ::getpwnam("postgres");
      if (postgres == nullptr) return "running as root and there is no `postgres` user";
      if (::chown(folder, postgres->pw_uid, postgres->pw_gid) != 0) return "chown failed";
      as_user = "runuser -u postgres -- ";
    }
    std::string data = (root_ / "data").string();
    std::string log = (root_ / "server.log").string();
    std::string initdb = as_user + (bin / "initdb").string() + " -D " + data +
                         " -U slipway -A trust -E UTF8 --locale=C.UTF-8 --no-sync > " +
                         (root_ / "initdb.log").string() + " 2>&1";
    if (std::system(initdb.c_str()) != 0) {
      return "initdb failed: " + ReadFile(root_ / "initdb.log");
    }
    stop_ = as_user + (bin / "pg_ctl").string() + " -D " + data + " -m immediate -w stop" +
            " > /dev/null 2>&1";
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = FreePort();
      std::string start =
          as_user + (bin / "pg_ctl").string() + " -D " + data + " -l " + log + " -o '-p " +
          std::to_string(port_) +
          " -c listen_addresses=127.0.0.1 -c unix_socket_directories=" + root_.string() +
          " -c fsync=off -c full_page_writes=off -c max_connections=200'" +
          " -w -t 60 start > /dev/null 2>&1";
      if (std::system(start.c_str()) == 0) {
        running_ = true;
        // A test that ends the program through an uncaught exception skips
        // the static destructors: stop the server on that path too.
        static Cluster* self = this;
        std::set_terminate([] {
          self->~Cluster();
          std::abort();
        });
        return "";
      }
      if (ReadFile(log).find("could not bind") == std::string::npos) break;
    }
    return "pg_ctl start failed: " + ReadFile(log);
  }

  ~Cluster() {
    if (running_) (void)std::system(stop_.c_str());
    running_ = false;
    std::error_code ec;
    if (!root_.empty()) fs::remove_all(root_, ec);
  }

  std::string Uri() const {
    return "postgresql://slipway@127.0.0.1:" + std::to_string(port_) + "/postgres";
  }

 private:
  fs::path root_;
  std::string stop_;
  int port_ = 0;
  bool running_ = false;
};

// The server URI, or "" and why not; decided once per program.
const std::string& ServerUri(std::string* why_not) {
  static std::once_flag once;
  static std::string uri;
  static std::string reason;
  std::call_once(once, [] {
    if (const char* given = std::getenv("SLIPWAY_TEST_POSTGRES_URI"); given && *given) {
      uri = given;
      return;
    }
    static Cluster started;  // destroyed at exit: stops the server
    reason = started.Start();
    if (reason.empty()) uri = started.Uri();
  });
  *why_not = reason;
  return uri;
}

// `uri` with its database replaced by `database`.
std::string WithDatabase(const std::string& uri, const std::string& database) {
  size_t scheme = uri.find("://");
  size_t slash = uri.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  size_t query = uri.find('?');
  std::string base = uri.substr(0, slash == std::string::npos ? query : slash);
  std::string rest = query == std::string::npos ? "" : uri.substr(query);
  return base + "/" + database + rest;
}

}  // namespace

std::string FreshPostgresDatabase(std::string* why_not) {
  const std::string& server = ServerUri(why_not);
  if (server.empty()) return "";
  static std::atomic<int> counter{0};
  std::string name = "unit_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
  store::postgres::PgConnection admin(server, 10);
  admin.ExecScript("CREATE DATABASE " + name + " TEMPLATE template0 ENCODING 'UTF8'");
  return WithDatabase(server, name);
}

}  // namespace slipway::testing
