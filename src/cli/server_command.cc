#include "cli/server_command.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "cli/cli_support.h"
#include "core/error.h"
#include "data/content_store.h"
#include "data/dataset_service.h"
#include "governance/access_control.h"
#include "governance/audit_log.h"
#include "http/audit_hook.h"
#include "http/auth_routes.h"
#include "http/dataset_routes.h"
#include "http/http_server.h"
#include "http/mlflow_routes.h"
#include "http/registry_routes.h"
#include "registry/registry_service.h"
#include "store/sqlite_audit_store.h"
#include "store/sqlite_auth_store.h"
#include "store/sqlite_dataset_store.h"
#include "store/sqlite_db.h"
#include "store/sqlite_registry_store.h"
#include "store/sqlite_tracking_store.h"
#include "tracking/artifact_store.h"
#include "tracking/tracking_service.h"

namespace slipway::cli {
namespace {

struct ServerArgs {
  std::string host = "127.0.0.1";
  int port = 5000;
  std::string store = "sqlite:///slipway-data/slipway.db";
  std::string artifacts = "slipway-data/artifacts";
  std::string datasets = "slipway-data/datasets";
  int threads = 64;
  bool auth = false;
  std::string default_permission = "READ";
  std::string sync = "full";
  // Seconds; the defaults are AuditLog's.
  int audit_refusal_interval =
      static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(
                           governance::AuditLog::Options().refusal_interval)
                           .count());
  int audit_refusal_burst = governance::AuditLog::Options().refusal_burst;
};

// With --auth and no users yet, the first admin comes from the environment
// (as MLflow's MLFLOW_AUTH_ADMIN_PASSWORD); there is no default password.
void BootstrapAdmin(governance::AccessControl& access) {
  if (access.HasUsers()) return;
  const char* password = std::getenv("SLIPWAY_ADMIN_PASSWORD");
  if (password == nullptr || *password == '\0') {
    throw Error(ErrorCode::kInvalidParameterValue,
                "--auth needs a first admin: set SLIPWAY_ADMIN_PASSWORD (and optionally "
                "SLIPWAY_ADMIN_USERNAME, default 'admin') for the first start, or create one "
                "with `slipway users create NAME --admin --store URI`");
  }
  const char* username = std::getenv("SLIPWAY_ADMIN_USERNAME");
  std::string name = username != nullptr && *username != '\0' ? username : "admin";
  access.CreateUser(name, password, true);
  spdlog::info("created the first admin user '{}'", name);
}

std::string ArtifactsPath(const std::string& uri) {
  const std::string scheme = "file://";
  if (uri.rfind(scheme, 0) == 0) return uri.substr(scheme.size());
  if (uri.find("://") != std::string::npos) {
    throw Error(ErrorCode::kInvalidParameterValue,
                "unsupported --artifacts '" + uri + "': use a local folder or file://PATH");
  }
  return uri;
}

void RunServer(const ServerArgs& args) {
  spdlog::set_level(spdlog::level::info);
  // Block the stop signals in every thread; one thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::string db_path = SqlitePath(args.store);
  std::filesystem::path db_folder = std::filesystem::path(db_path).parent_path();
  if (!db_folder.empty()) std::filesystem::create_directories(db_folder);
  std::shared_ptr<store::SqliteDb> database =
      store::OpenMetadataDatabase(db_path, store::ParseSync(args.sync));
  store::SqliteTrackingStore tracking_store(database);
  store::SqliteRegistryStore registry_store(database);
  tracking::ArtifactStore artifacts(ArtifactsPath(args.artifacts));
  tracking::TrackingService tracking(tracking_store, {});
  registry::RegistryService registry(registry_store, tracking);
  store::SqliteAuditStore audit_store(database);
  governance::AuditLog::Options audit_options;
  audit_options.refusal_interval = std::chrono::seconds(args.audit_refusal_interval);
  audit_options.refusal_burst = args.audit_refusal_burst;
  governance::AuditLog audit(audit_store, audit_options);

  http::HttpServer::Options options;
  options.host = args.host;
  options.port = args.port;
  options.threads = args.threads;
  http::HttpServer server(options);
  http::AddMlflowRoutes(server, tracking, artifacts);
  http::AddRegistryRoutes(server, registry, tracking);
  std::unique_ptr<data::ContentStore> dataset_content = data::ContentStore::Open(args.datasets);
  store::SqliteDatasetStore dataset_store(database);
  data::DatasetService datasets(*dataset_content, dataset_store);
  http::AddDatasetRoutes(server, datasets);
  http::AddAuditRoutes(server, audit);
  http::EnableAuditTrail(server, audit);
  store::SqliteAuthStore auth_store(database);
  std::unique_ptr<governance::AccessControl> access;
  if (args.auth) {
    governance::AccessControl::Options auth_options;
    auth_options.default_permission = governance::ParsePermission(args.default_permission);
    access = std::make_unique<governance::AccessControl>(auth_store, auth_options);
    BootstrapAdmin(*access);
    http::EnableAuth(server, *access, tracking, datasets);
    http::AddAuthRoutes(server, *access);
  }

  std::thread waiter([&server, stop_signals] {
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    spdlog::info("received signal {}, shutting down", signal_number);
    server.Stop();
  });
  spdlog::info("slipway server on http://{}:{} (store {}, sync {}, artifacts {}, auth {})",
               args.host, args.port, db_path, args.sync, artifacts.root().string(),
               args.auth ? "on, default permission " + args.default_permission : "off");
  bool ok = server.Listen();
  if (!ok) {
    pthread_kill(waiter.native_handle(), SIGTERM);
    waiter.join();
    throw Error(ErrorCode::kInternalError, "cannot listen on " + args.host + ":" +
                                               std::to_string(args.port) +
                                               " (address in use or not available)");
  }
  waiter.join();
  spdlog::info("stopped");
}

}  // namespace

void AddServerCommand(CLI::App& app) {
  auto args = std::make_shared<ServerArgs>();
  CLI::App* cmd = app.add_subcommand("server", "Run the tracking server (MLflow REST API)");
  cmd->add_option("--host", args->host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", args->port, "Port to listen on")->capture_default_str();
  cmd->add_option("--store", args->store, "Metadata store URI (sqlite:///PATH)")
      ->capture_default_str();
  cmd->add_option("--artifacts", args->artifacts, "Artifact root folder (PATH or file://PATH)")
      ->capture_default_str();
  cmd->add_option("--datasets", args->datasets,
                  "Folder of the dataset content store (pushed dataset versions)")
      ->capture_default_str();
  cmd->add_option("--sync", args->sync,
                  "When a commit waits for the disk: full (fsync every commit; survives power "
                  "loss) or normal (survives a crash of the process only)")
      ->capture_default_str()
      ->check(CLI::IsMember({"full", "normal"}));
  cmd->add_option("--audit-refusal-interval", args->audit_refusal_interval,
                  "Seconds over which repeated refusals (401, 403, 429: same client address, "
                  "principal, status, route and target) are counted; beyond the burst, one "
                  "summary entry per interval")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  cmd->add_option("--audit-refusal-burst", args->audit_refusal_burst,
                  "Repeated refusals per interval that get an audit entry of their own")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--threads", args->threads, "Request threads (open connections served at once)")
      ->capture_default_str()
      ->check(CLI::Range(2, 4096));
  cmd->add_flag("--auth", args->auth,
                "Require HTTP Basic or Bearer credentials and enforce permissions");
  cmd->add_option("--auth-default-permission", args->default_permission,
                  "Permission on resources a user has no explicit grant for")
      ->capture_default_str()
      ->check(CLI::IsMember({"NO_PERMISSIONS", "READ", "USE", "EDIT", "MANAGE"}));
  cmd->callback([args] { RunServer(*args); });
}

}  // namespace slipway::cli
