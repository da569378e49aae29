#include "cli/server_command.h"

#include <fmt/format.h>
#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "app/app.h"
#include "cli/cli_support.h"
#include "core/error.h"
#include "data/dataset_service.h"
#include "governance/access_control.h"
#include "governance/audit_log.h"
#include "governance/authorization.h"
#include "grpc/oip_grpc_server.h"
#include "http/alert_routes.h"
#include "http/artifact_routes.h"
#include "http/audit_hook.h"
#include "http/auth_routes.h"
#include "http/dataset_routes.h"
#include "http/genai_routes.h"
#include "http/graphql_routes.h"
#include "http/http_server.h"
#include "http/loop_routes.h"
#include "http/mlflow_routes.h"
#include "http/monitor_routes.h"
#include "http/registry_routes.h"
#include "http/serving_routes.h"
#include "http/trace_routes.h"
#include "registry/registry_service.h"
#include "tracking/artifact_store.h"
#include "tracking/tracking_service.h"
#include "webui/mlflow_ui.h"
#include "webui/webui_routes.h"

namespace slipway::cli {
namespace {

// Where the server's own child processes reach it: a wildcard address is
// reached on loopback.
std::string LoopbackHost(const std::string& host) {
  if (host.empty() || host == "0.0.0.0") return "127.0.0.1";
  if (host == "::") return "[::1]";
  if (host.find(':') != std::string::npos) return "[" + host + "]";
  return host;
}

// This executable, for the children that run `slipway train`.
std::string SelfExecutable() {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::string() : self.string();
}

struct ServerArgs {
  std::string host = "127.0.0.1";
  int port = 5000;
  int grpc_port = 0;  // 0: no gRPC
  int grpc_threads = 64;
  // Every default path derives from the data folder; an explicit option wins.
  std::string data_dir = "slipway-data";
  bool data_dir_given = false;
  std::string store;      // default sqlite:///<data_dir>/slipway.db
  std::string artifacts;  // default <data_dir>/artifacts
  std::string datasets;   // default <data_dir>/datasets
  // For an s3:// artifact root; empty: from the environment (AWS_ENDPOINT_URL).
  std::string s3_endpoint;
  int threads = 32;
  int io_threads = 0;  // 0: one per usable core
  double header_timeout = 30;
  double idle_timeout = 30;
  std::string log_format = "text";
  bool no_access_log = false;
  bool auth = false;
  std::string default_permission = "READ";
  std::string sync = "full";
  std::string python = "python3";
  std::string env_manager = "local";
  int python_workers = 1;
  // The prediction log's retention and how soon a record is readable.
  uint64_t prediction_log_max_mb = 1024;
  int prediction_log_max_age_hours = 7 * 24;
  double prediction_log_flush = 2;  // seconds
  double alerts_interval = 15;      // seconds
  double alerts_resend = 60;        // seconds
  std::string external_url;
  int data_threads = 0;  // 0: one per core
  // Seconds; the defaults are AuditLog's.
  int audit_refusal_interval =
      static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(
                           governance::AuditLog::Options().refusal_interval)
                           .count());
  int audit_refusal_burst = governance::AuditLog::Options().refusal_burst;
  // MLflow's own UI under /mlflow/: its build folder, or empty to ask
  // `python` where its mlflow keeps it.
  bool mlflow_ui = false;
  std::string mlflow_ui_path;
};

// With --auth and no users yet, the first admin comes from the environment
// (as MLflow's MLFLOW_AUTH_ADMIN_PASSWORD); there is no default password.
void BootstrapAdmin(governance::AccessControl& access, governance::AuditLog& log) {
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
  // The server makes it on its own account, before anyone can sign in.
  governance::AuditedOperation(log, governance::Actor::Operator("system:server"), "users/create",
                               "startup", "SLIPWAY_ADMIN_PASSWORD bootstrap of " + name)
      .Run([&] { access.CreateUser(name, password, true); });
  spdlog::info("created the first admin user '{}'", name);
}

// Many idle keep-alive connections are cheap now; let the process have as
// many descriptors as the system allows it.
void RunServer(const ServerArgs& args) {
  spdlog::set_level(spdlog::level::info);
  RaiseOpenFileLimit();
  // glibc raises its mmap threshold after large frees, after which the
  // memory of large request bodies is kept in the heap for good; a fixed
  // threshold maps (and unmaps) every allocation over 1 MiB.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  // Block the stop signals in every thread; one thread waits for them.
  const sigset_t stop_signals = BlockStopSignals();
  // Found (or refused) before anything is opened.
  std::optional<webui::MlflowUiFiles> mlflow_ui;
  if (args.mlflow_ui) {
    mlflow_ui = webui::MlflowUiFiles::Open(args.mlflow_ui_path.empty()
                                               ? webui::LocateInstalledMlflowUi(args.python)
                                               : std::filesystem::path(args.mlflow_ui_path));
    spdlog::info("MLflow's UI at /mlflow/, from {}", mlflow_ui->root().string());
  }

  http::HttpServer::Options options;
  options.host = args.host;
  options.port = args.port;
  options.worker_threads = args.threads;
  options.io_threads = args.io_threads;
  options.header_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(args.header_timeout * 1000));
  options.idle_timeout = std::chrono::milliseconds(static_cast<int64_t>(args.idle_timeout * 1000));
  options.json_log = args.log_format == "json";
  options.access_log = !args.no_access_log;
  http::HttpServer server(options);

  app::App::Options app_options;
  app_options.metrics = &server.metrics();  // outlives the App (declared first)
  // Without --data-dir, the folder of --store is where the data lives.
  if (args.data_dir_given) app_options.data_dir = args.data_dir;
  app_options.store = args.store;
  app_options.artifacts = args.artifacts;
  app_options.s3_endpoint = args.s3_endpoint;
  app_options.datasets = args.datasets;
  if (args.auth) {
    governance::AccessControl::Options auth_options;
    auth_options.default_permission = governance::ParsePermission(args.default_permission);
    app_options.access = auth_options;
  }
  app_options.sync = store::ParseSync(args.sync);
  app_options.models.python.python = args.python;
  app_options.models.python.env_manager = args.env_manager;
  app_options.models.python.workers = args.python_workers;
  app_options.prediction_log_bytes = args.prediction_log_max_mb << 20;
  app_options.prediction_log_age = std::chrono::hours(args.prediction_log_max_age_hours);
  app_options.data_threads = args.data_threads;
  app_options.prediction_log_flush =
      std::chrono::milliseconds(static_cast<int64_t>(args.prediction_log_flush * 1000));
  app_options.audit.refusal_interval = std::chrono::seconds(args.audit_refusal_interval);
  app_options.audit.refusal_burst = args.audit_refusal_burst;
  // The closed loop's retrains run this executable against this server.
  app_options.loop_binary = SelfExecutable();
  app_options.loop_tracking_uri = fmt::format("http://{}:{}", LoopbackHost(args.host), args.port);
  app_options.alerts.interval =
      std::chrono::milliseconds(static_cast<int64_t>(args.alerts_interval * 1000));
  app_options.alerts.resend_interval =
      std::chrono::milliseconds(static_cast<int64_t>(args.alerts_resend * 1000));
  app_options.alerts.external_url = args.external_url.empty()
                                        ? "http://" + args.host + ":" + std::to_string(args.port)
                                        : args.external_url;
  while (!app_options.alerts.external_url.empty() && app_options.alerts.external_url.back() == '/')
    app_options.alerts.external_url.pop_back();
  std::unique_ptr<app::App> app = app::App::Create(std::move(app_options));

  http::AddMlflowRoutes(server, app->tracking());
  http::AddArtifactRoutes(server, app->tracking(), app->registry(), app->artifacts());
  http::AddGraphqlRoutes(server, app->tracking(), app->registry(), app->artifacts());
  http::AddRegistryRoutes(server, app->registry(), app->tracking());
  http::AddTraceRoutes(server, app->traces(), app->artifacts().SupportsMultipartUpload());
  http::AddGenaiRoutes(server, app->evaluation_datasets(), app->issues(), app->scorers());
  http::AddDatasetRoutes(server, app->datasets());
  http::AddDeploymentRoutes(server, app->serving());
  http::AddLoopRoutes(server, app->loops());
  http::AddAlertRoutes(server, app->alerts());
  http::AddMonitorRoutes(server, app->monitors());
  http::AddAuditRoutes(server, app->audit());
  http::AddSessionRoutes(server, app->access());
  http::EnableAuditTrail(server, app->audit());
  http::EnableGovernance(server, app->authorizer(), app->access());
  if (governance::AccessControl* access = app->access()) {
    BootstrapAdmin(*access, app->audit());
    http::AddAuthRoutes(server, *access);
  }
  if (mlflow_ui) webui::AddMlflowUiRoutes(server, *mlflow_ui);
  // Last: its client routes are matched after every API route.
  webui::AddWebUiRoutes(server);
  app->Start();  // background work: checkpoints, audit refusal summaries
  std::unique_ptr<grpc::OipGrpcServer> grpc_server;
  if (args.grpc_port > 0) {
    grpc::OipGrpcServer::Options grpc_options;
    grpc_options.host = args.host;
    grpc_options.port = args.grpc_port;
    grpc_options.max_threads = args.grpc_threads;
    grpc_options.max_receive_bytes = static_cast<int>(options.max_json_body);
    grpc_options.access = app->access();  // null without --auth
    grpc_options.audit = &app->audit();
    grpc_server =
        std::make_unique<grpc::OipGrpcServer>(grpc_options, grpc::ServingDirectory(app->serving()));
    grpc_server->Start();
    spdlog::info("OIP v2 gRPC on {}:{}", args.host, grpc_server->port());
  }

  spdlog::info(
      "slipway server on http://{}:{} (store {}, sync {}, artifacts {}, datasets {}, auth {})",
      args.host, args.port, app->store_description(), args.sync, app->artifacts().location(),
      app->options().datasets,
      args.auth ? "on, default permission " + args.default_permission : "off");
  if (!webui::AssetCatalog::Embedded().built()) {
    spdlog::warn("this build has no web UI (SLIPWAY_BUILD_UI=OFF): / says so");
  }
  ListenUntilStopped(server, stop_signals, args.host, args.port);
  if (grpc_server) grpc_server->Stop();
  // Background tasks end before the stores close (the App's destructor).
  app->Stop();
  spdlog::info("stopped");
}

}  // namespace

void AddServerCommand(CLI::App& app) {
  auto args = std::make_shared<ServerArgs>();
  CLI::App* cmd = app.add_subcommand("server", "Run the tracking server (MLflow REST API)");
  cmd->add_option("--host", args->host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", args->port, "Port to listen on")->capture_default_str();
  cmd->add_option("--grpc-port", args->grpc_port,
                  "Also serve deployments over the Open Inference Protocol v2 gRPC on this "
                  "port (0: off)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--grpc-threads", args->grpc_threads,
                  "Threads gRPC may run calls on; beyond, new calls are refused with "
                  "RESOURCE_EXHAUSTED")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  CLI::Option* data_dir =
      cmd->add_option("--data-dir", args->data_dir,
                      "Folder for everything the server keeps: the default --store, "
                      "--artifacts and --datasets are under it (default: the folder of "
                      "--store when that is given, else slipway-data)")
          ->capture_default_str();
  cmd->add_option("--store", args->store,
                  "Metadata store URI: sqlite:///PATH or postgresql://USER@HOST[:PORT]/DB (then "
                  "give --data-dir too); default sqlite:///DATA_DIR/slipway.db");
  cmd->add_option("--artifacts", args->artifacts,
                  "Artifact root: a folder (PATH or file://PATH) or a bucket "
                  "(s3://BUCKET/PREFIX, credentials from AWS_ACCESS_KEY_ID/"
                  "AWS_SECRET_ACCESS_KEY or ~/.aws); default DATA_DIR/artifacts");
  cmd->add_option("--s3-endpoint", args->s3_endpoint,
                  "URL of the S3-compatible server for an s3:// --artifacts "
                  "(http://HOST:PORT: MinIO, S3Proxy, ...); default AWS_ENDPOINT_URL, else AWS");
  cmd->add_option("--datasets", args->datasets,
                  "Folder of the dataset content store (pushed dataset versions); default "
                  "DATA_DIR/datasets");
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
  cmd->add_option("--threads", args->threads,
                  "Worker threads: requests handled at once (open connections cost no thread)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--data-threads", args->data_threads,
                  "Threads for dataset adds and profiles (hashing, chunking, sketches); 0 is one "
                  "per core")
      ->capture_default_str()
      ->check(CLI::Range(0, 256));
  cmd->add_option("--io-threads", args->io_threads,
                  "Threads that read requests and write replies for every connection; 0 is one "
                  "per core the process may use (its CPU affinity and cgroup quota)")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  cmd->add_option("--header-timeout", args->header_timeout,
                  "Seconds a connection may take to send a request's headers (and may stay "
                  "idle between requests)")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  cmd->add_option("--idle-timeout", args->idle_timeout,
                  "Seconds of silence allowed while a body is read or a reply written")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  cmd->add_option("--log-format", args->log_format,
                  "Access log format: one text line or one JSON object per request")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  cmd->add_flag("--no-access-log", args->no_access_log, "Do not log a line per request");
  cmd->add_option("--python", args->python,
                  "Interpreter that runs deployments of Python flavors (with mlflow installed)")
      ->capture_default_str();
  cmd->add_option("--env-manager", args->env_manager,
                  "Python flavors: local (the interpreter's environment) or virtualenv (each "
                  "model's own, built from its requirements)")
      ->capture_default_str()
      ->check(CLI::IsMember({"local", "virtualenv"}));
  cmd->add_option("--python-workers", args->python_workers,
                  "Worker processes per deployed version of a Python flavor")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  cmd->add_option("--prediction-log-max-mb", args->prediction_log_max_mb,
                  "Size of the prediction log (MiB) beyond which its oldest segments are deleted")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 30));
  cmd->add_option("--prediction-log-max-age-hours", args->prediction_log_max_age_hours,
                  "Age (hours) beyond which prediction log segments are deleted")
      ->capture_default_str()
      ->check(CLI::Range(1, 24 * 3650));
  cmd->add_option("--alerts-interval", args->alerts_interval,
                  "Seconds between two evaluations of the alert rules (rates are per second "
                  "over it; failed deliveries are retried from it, backing off)")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 3600.0));
  cmd->add_option("--alerts-resend", args->alerts_resend,
                  "Seconds between two re-sends of a firing alert to Alertmanager")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 86400.0));
  cmd->add_option("--external-url", args->external_url,
                  "The server's URL as others reach it, for the generatorURL of alerts "
                  "(default http://HOST:PORT)");
  cmd->add_option("--prediction-log-flush", args->prediction_log_flush,
                  "Seconds after its first record a prediction log segment is published "
                  "(readable); also when it reaches 64 MiB")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 600.0));
  cmd->add_flag("--auth", args->auth,
                "Require HTTP Basic or Bearer credentials and enforce permissions");
  cmd->add_option("--auth-default-permission", args->default_permission,
                  "Permission on resources a user has no explicit grant for")
      ->capture_default_str()
      ->check(CLI::IsMember({"NO_PERMISSIONS", "READ", "USE", "EDIT", "MANAGE"}));
  CLI::Option* mlflow_ui =
      cmd->add_option("--mlflow-ui", args->mlflow_ui_path,
                      "Also serve MLflow's own web UI at /mlflow/, from the mlflow package that "
                      "--python imports, or from PATH (MLflow's server/js/build folder)")
          ->expected(0, 1);
  cmd->callback([args, data_dir, mlflow_ui] {
    args->data_dir_given = data_dir->count() > 0;
    args->mlflow_ui = mlflow_ui->count() > 0;
    RunServer(*args);
  });
}

}  // namespace slipway::cli
