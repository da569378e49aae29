// The S3-compatible server the unit tests of the S3 backend talk to.
//
// SLIPWAY_TEST_S3_ENDPOINT (with SLIPWAY_TEST_S3_ACCESS_KEY and
// SLIPWAY_TEST_S3_SECRET_KEY) names a running one, e.g. the S3Proxy that
// the integration tests start, or MinIO. Unset, the first test that needs a
// server starts S3Proxy itself from the jars `make deps-s3proxy` fetched
// into tests/s3proxy/lib (a real server on a temporary folder, on a free
// loopback port), and stops it when the test process exits. With neither,
// such tests are skipped, saying why.
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

namespace slipway::testing {

struct S3TestServer {
  std::string endpoint;  // http://127.0.0.1:PORT
  std::string access_key;
  std::string secret_key;
};

namespace s3_test_detail {

inline int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

inline bool Accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return ok;
}

struct Started {
  pid_t pid = -1;
  std::filesystem::path folder;
};

inline Started& Child() {
  static Started started;
  return started;
}

inline void StopChild() {
  Started& child = Child();
  if (child.pid > 0) {
    ::kill(child.pid, SIGTERM);
    ::waitpid(child.pid, nullptr, 0);
    child.pid = -1;
  }
  std::error_code ignored;
  if (!child.folder.empty()) std::filesystem::remove_all(child.folder, ignored);
}

// Starts S3Proxy; the reason it could not in `why`.
inline std::optional<S3TestServer> StartS3Proxy(std::string& why) {
  const std::filesystem::path lib = SLIPWAY_S3PROXY_LIB;
  if (!std::filesystem::is_directory(lib)) {
    why = "no S3 server: set SLIPWAY_TEST_S3_ENDPOINT, or fetch S3Proxy into " + lib.string() +
          " (make deps-s3proxy)";
    return std::nullopt;
  }
  const int port = FreePort();
  Started& child = Child();
  child.folder = std::filesystem::temp_directory_path() /
                 ("slipway-s3proxy-unit-" + std::to_string(::getpid()));
  std::filesystem::create_directories(child.folder / "data");
  S3TestServer server{"http://127.0.0.1:" + std::to_string(port), "slipway-test-key",
                      "slipway-test-secret-do-not-log"};
  {
    std::ofstream properties(child.folder / "s3proxy.properties");
    properties << "s3proxy.endpoint=" << server.endpoint << "\n"
               << "s3proxy.authorization=aws-v2-or-v4\n"
               << "s3proxy.identity=" << server.access_key << "\n"
               << "s3proxy.credential=" << server.secret_key << "\n"
               << "jclouds.provider=filesystem\n"
               << "jclouds.filesystem.basedir=" << (child.folder / "data").string() << "\n";
  }
  const std::string classpath = (lib / "*").string();
  const std::string properties = (child.folder / "s3proxy.properties").string();
  const std::string log = (child.folder / "s3proxy.log").string();
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlives the test process
    if (::getppid() != parent) ::_exit(1);
    if (FILE* out = std::freopen(log.c_str(), "w", stdout)) ::dup2(::fileno(out), 2);
    ::execlp("java", "java", "-cp", classpath.c_str(), "org.gaul.s3proxy.Main", "--properties",
             properties.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  child.pid = pid;
  std::atexit(StopChild);
  for (int i = 0; i < 600; ++i) {  // JVM start-up on a loaded machine: up to a minute
    if (Accepts(port)) return server;
    if (::waitpid(pid, nullptr, WNOHANG) == pid) {
      child.pid = -1;
      why = "S3Proxy exited at start-up; see " + log;
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  why = "S3Proxy did not listen within a minute; see " + log;
  return std::nullopt;
}

}  // namespace s3_test_detail

// The server, started once per process; nothing (and `why`) when none.
inline const std::optional<S3TestServer>& S3Server(std::string* why = nullptr) {
  static std::string reason;
  static const std::optional<S3TestServer> server = []() -> std::optional<S3TestServer> {
    if (const char* endpoint = std::getenv("SLIPWAY_TEST_S3_ENDPOINT"); endpoint && *endpoint) {
      const char* key = std::getenv("SLIPWAY_TEST_S3_ACCESS_KEY");
      const char* secret = std::getenv("SLIPWAY_TEST_S3_SECRET_KEY");
      return S3TestServer{endpoint, key ? key : "", secret ? secret : ""};
    }
    return s3_test_detail::StartS3Proxy(reason);
  }();
  if (why) *why = reason;
  return server;
}

}  // namespace slipway::testing
