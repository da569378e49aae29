#include "cli/serve_commands.h"

#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "cli/api_client.h"
#include "cli/cli_support.h"
#include "cli/kubernetes_manifests.h"
#include "cli/registered_model.h"
#include "cli/table.h"
#include "core/error.h"
#include "core/sha256.h"
#include "grpc/oip_grpc_server.h"
#include "http/http_server.h"
#include "http/serving_routes.h"
#include "ml/input_example.h"
#include "ml/model_loader.h"
#include "serving/deployment.h"
#include "serving/serving_service.h"

namespace slipway::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct ServeArgs {
  std::string model;
  std::string host = "127.0.0.1";
  int port = 8080;
  int grpc_port = 0;  // 0: no gRPC
  int grpc_threads = 64;
  int threads = 32;
  int io_threads = 0;  // 0: one per usable core
  int64_t max_batch_rows = 0;
  int64_t max_queue_delay_us = 0;
  int64_t max_queued = 256;
  std::string env_manager = "local";
  std::string python = "python3";
  int python_workers = 1;
  std::string tracking_uri;
  std::string cache_dir;
  bool no_access_log = false;
};

// A models:/ reference resolved through the tracking server, its files
// downloaded once into the cache: returns the local folder, the model name
// and the version.
fs::path FetchRegisteredModel(const ServeArgs& args, std::string* name, std::string* version) {
  ApiClient client(ResolveTrackingUri(args.tracking_uri));
  const fs::path cache = args.cache_dir.empty() ? fs::temp_directory_path() / "slipway-serve"
                                                : fs::path(args.cache_dir);
  RegisteredModel model = FetchRegisteredModel(client, args.model, cache);
  *name = model.name;
  *version = model.version;
  return model.dir;
}

void RunServe(const ServeArgs& args) {
  const auto started = std::chrono::steady_clock::now();
  spdlog::set_level(spdlog::level::info);
  RaiseOpenFileLimit();
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  const sigset_t stop_signals = BlockStopSignals();

  std::string name;
  std::string version = "1";
  fs::path dir;
  if (args.model.rfind("models:/", 0) == 0) {
    dir = FetchRegisteredModel(args, &name, &version);
  } else {
    dir = fs::path(args.model);
    if (!fs::is_directory(dir)) {
      ThrowInvalid("'" + args.model + "' is neither a models:/ reference nor a model folder");
    }
    name = fs::weakly_canonical(dir).filename().string();
  }
  ml::LoadOptions load;
  load.python.python = args.python;
  load.python.env_manager = args.env_manager;
  load.python.workers = args.python_workers;

  http::HttpServer::Options options;
  options.host = args.host;
  options.port = args.port;
  options.worker_threads = args.threads;
  options.io_threads = args.io_threads;
  options.access_log = !args.no_access_log;
  http::HttpServer server(options);

  auto servable = std::make_shared<serving::Servable>();
  servable->model_name = name;
  servable->version = version;
  servable->uri = args.model;
  servable->model = ml::LoadModel(dir, load);
  servable->loaded_at = std::chrono::system_clock::now();
  servable->metrics =
      serving::ServableMetrics::For(&server.metrics(), name, "primary", name, version);
  if (args.max_batch_rows > 0) {
    servable->batcher = std::make_shared<serving::Batcher>(
        serving::Batcher::Options{static_cast<size_t>(args.max_batch_rows),
                                  std::chrono::microseconds(args.max_queue_delay_us)});
  }
  if (std::optional<ml::Frame> example = ml::ReadInputExample(servable->model->mlmodel())) {
    servable->Predict(servable->Conform(std::move(*example)), "");
  }
  serving::Deployment::Options deployment_options;
  deployment_options.max_queued = static_cast<size_t>(args.max_queued);
  auto deployment = std::make_shared<serving::Deployment>(name, deployment_options, nullptr,
                                                          &server.metrics(), nullptr);
  auto routing = std::make_shared<serving::Routing>();
  routing->primary = servable;
  deployment->Swap(routing);
  http::AddStandaloneRoutes(server, deployment, name);
  std::unique_ptr<grpc::OipGrpcServer> grpc_server;
  if (args.grpc_port > 0) {
    grpc::OipGrpcServer::Options grpc_options;
    grpc_options.host = args.host;
    grpc_options.port = args.grpc_port;
    grpc_options.max_threads = args.grpc_threads;
    grpc_server = std::make_unique<grpc::OipGrpcServer>(grpc_options,
                                                        grpc::SingleDeployment(deployment, name));
    grpc_server->Start();
    spdlog::info("slipway serve: OIP v2 gRPC on {}:{}", args.host, grpc_server->port());
  }

  spdlog::info("slipway serve: {} v{} ({}, {}) on http://{}:{}, ready in {:.0f} ms", name, version,
               servable->model->flavor(), servable->model->native() ? "native" : "Python worker",
               args.host, args.port,
               std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                   .count());
  ListenUntilStopped(server, stop_signals, args.host, args.port);
  if (grpc_server) grpc_server->Stop();
}

// --- slipway deploy

struct DeployArgs {
  ServerOptions server;
  std::string name;
  std::string model;
  int weight = 10;
  bool clear = false;
  int64_t max_batch_rows = -1;
  int64_t max_queue_delay_us = -1;
  int64_t max_queued = -1;
  double log_sample_rate = -1;
  // --target kubernetes: manifests instead of a request to the server.
  std::string target = "server";
  std::string output;  // a folder, or "-" for stdout
  bool apply = false;
  KubernetesModelOptions kubernetes;
  std::vector<CLI::Option*> kubernetes_options;
};

const std::string kDeployments = "/api/v1/deployments";

json Limits(const DeployArgs& args) {
  json body = json::object();
  if (args.max_batch_rows >= 0) body["max_batch_rows"] = args.max_batch_rows;
  if (args.max_queue_delay_us >= 0) body["max_queue_delay_us"] = args.max_queue_delay_us;
  if (args.max_queued >= 0) body["max_queued"] = args.max_queued;
  if (args.log_sample_rate >= 0) body["log_sample_rate"] = args.log_sample_rate;
  return body;
}

std::string Cell(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  return value.dump();
}

void PrintDeployment(const json& d, bool details) {
  std::cout << "deployment " << StringField(d, "name") << "\n"
            << "  model:  " << StringField(d, "model_uri");
  if (!StringField(d, "pinned_version").empty()) {
    std::cout << " (pinned to v" << StringField(d, "pinned_version") << " by a rollback)";
  }
  std::cout << "\n";
  if (!StringField(d, "canary_uri").empty()) {
    std::cout << "  canary: " << StringField(d, "canary_uri") << " ("
              << Cell(Field(d, "canary_weight")) << "% of requests)\n";
  }
  if (!StringField(d, "shadow_uri").empty()) {
    std::cout << "  shadow: " << StringField(d, "shadow_uri") << " (mirrored, answers discarded)\n";
  }
  // Totals since each version was loaded, and rates and latency over the
  // last minute (once the server has sampled them: a few seconds after a
  // version starts serving).
  Table versions({{"ROLE"},
                  {"MODEL"},
                  {"VERSION", Table::Align::kRight, false},
                  {"STATE"},
                  {"REQUESTS", Table::Align::kRight},
                  {"ERRORS", Table::Align::kRight},
                  {"REQ/S", Table::Align::kRight},
                  {"ERR/S", Table::Align::kRight},
                  {"P50 MS", Table::Align::kRight},
                  {"P99 MS", Table::Align::kRight},
                  {"SINCE"},
                  {"ERROR"}});
  auto rate = [](const json& recent, const char* key) {
    std::optional<double> value = DoubleField(recent, key);
    if (!value) return std::string();
    char text[32];
    std::snprintf(text, sizeof text, "%.1f", *value);
    return std::string(text);
  };
  for (const json& v : ArrayField(d, "versions")) {
    const json recent = Field(v, "recent");
    versions.AddRow({StringField(v, "role"), StringField(v, "model_name"),
                     StringField(v, "version"), StringField(v, "state"), Cell(Field(v, "requests")),
                     Cell(Field(v, "errors")), rate(recent, "requests_per_s"),
                     rate(recent, "errors_per_s"), rate(recent, "latency_p50_ms"),
                     rate(recent, "latency_p99_ms"), FormatTime(Int64Field(v, "time")),
                     StringField(v, "error")});
  }
  PrintSection("versions", versions);
  if (!details) return;
  Table events({{"TIME"}, {"EVENT"}});
  for (const json& e : ArrayField(d, "events")) {
    events.AddRow({FormatTime(Int64Field(e, "time")), StringField(e, "text")});
  }
  PrintSection("events", events);
}

void Show(const DeployArgs& args, const json& reply) {
  if (args.server.json) {
    PrintJson(reply);
    return;
  }
  PrintDeployment(Field(reply, "deployment"), true);
}

// The deployment the options describe, as a server would keep it.
serving::DeploymentSpec SpecOf(const DeployArgs& args) {
  serving::DeploymentSpec spec;
  spec.name = args.name;
  spec.model_uri = args.model;
  if (args.max_batch_rows >= 0) spec.max_batch_rows = args.max_batch_rows;
  if (args.max_queue_delay_us >= 0) spec.max_queue_delay_us = args.max_queue_delay_us;
  if (args.max_queued >= 0) spec.max_queued = args.max_queued;
  if (args.log_sample_rate >= 0) spec.log_sample_rate = args.log_sample_rate;
  return spec;
}

// `deploy create --target kubernetes`: the manifests, written to a folder,
// to stdout, or applied with kubectl; the server is not asked.
void CreateOnKubernetes(const DeployArgs& args) {
  if (args.output.empty() && !args.apply) {
    ThrowInvalid(
        "--target kubernetes: say where the manifests go: --output DIR, --output - "
        "(stdout) or --apply (kubectl apply)");
  }
  const std::vector<KubernetesObject> objects =
      ModelDeploymentObjects(SpecOf(args), args.kubernetes);
  const std::string yaml = ToYaml(objects);
  if (args.output == "-") {
    std::cout << yaml;
  } else if (!args.output.empty()) {
    for (const fs::path& file : WriteManifests(args.output, objects)) {
      std::cerr << "wrote " << file.string() << "\n";
    }
  }
  if (args.apply) ApplyWithKubectl(yaml);
}

void AddKubernetesOptions(CLI::App* cmd, DeployArgs* args) {
  const std::string group = "Kubernetes (--target kubernetes)";
  KubernetesModelOptions& k = args->kubernetes;
  auto add = [&](CLI::Option* option) {
    option->group(group);
    args->kubernetes_options.push_back(option);
  };
  cmd->add_option("--target", args->target,
                  "server: create it on the tracking server; kubernetes: write or apply the "
                  "Kubernetes manifests of `slipway serve` pods for it instead")
      ->capture_default_str()
      ->check(CLI::IsMember({"server", "kubernetes"}));
  add(cmd->add_option("--output,-o", args->output,
                      "Folder to write the manifests to (one file per object), or - for stdout"));
  add(cmd->add_flag("--apply", args->apply,
                    "Pipe the manifests to `kubectl apply -f -` (kubectl's current context)"));
  add(cmd->add_option("--image", k.image, "Container image with the slipway binary")
          ->default_str("slipway:" SLIPWAY_VERSION_STRING));
  add(cmd->add_option("--image-pull-policy", k.image_pull_policy, "IfNotPresent, Always or Never")
          ->capture_default_str());
  add(cmd->add_option("--namespace", k.namespace_name, "Namespace of the objects"));
  add(cmd->add_option("--cluster-tracking-uri", k.tracking_uri,
                      "The tracking server as the pods reach it, inside the cluster")
          ->capture_default_str());
  add(cmd->add_option("--credentials-secret", k.credentials_secret,
                      "Secret with MLFLOW_TRACKING_TOKEN (or _USERNAME and _PASSWORD) for a "
                      "server with --auth"));
  add(cmd->add_option("--replicas", k.replicas, "Pods (the autoscaler's minimum)")
          ->capture_default_str());
  add(cmd->add_option("--max-replicas", k.max_replicas,
                      "Above --replicas: a HorizontalPodAutoscaler up to this many pods"));
  add(cmd->add_option("--autoscale-metric", k.autoscale_metric,
                      "queue (slipway_serving_queue_depth per pod; the default) or rate "
                      "(requests per second per pod); both need a custom metrics adapter"));
  add(cmd->add_option("--autoscale-target", k.autoscale_target,
                      "Per-pod average the autoscaler keeps (default 8 queued, or 100 req/s)"));
  add(cmd->add_option("--cpu-request", k.cpu_request, "CPU request")->capture_default_str());
  add(cmd->add_option("--cpu-limit", k.cpu_limit, "CPU limit (empty: none)")
          ->capture_default_str());
  add(cmd->add_option("--memory-request", k.memory_request, "Memory request")
          ->capture_default_str());
  add(cmd->add_option("--memory-limit", k.memory_limit, "Memory limit (empty: none)")
          ->capture_default_str());
  add(cmd->add_option("--port", k.port, "Port the pods serve on")->capture_default_str());
  add(cmd->add_option("--threads", k.threads, "`slipway serve --threads` (0: its default)"));
  add(cmd->add_flag("--service-monitor", k.service_monitor,
                    "Also a ServiceMonitor (Prometheus Operator) for the pods' /metrics"));
}

void AddDeployCommands(CLI::App& app) {
  CLI::App* deploy = app.add_subcommand(
      "deploy", "Manage deployments: models served by a running `slipway server`");
  deploy->require_subcommand(1);
  auto args = std::make_shared<DeployArgs>();
  auto limits = [args](CLI::App* cmd) {
    cmd->add_option("--max-batch-rows", args->max_batch_rows,
                    "Dynamic batching: rows per model call (0: off)");
    cmd->add_option("--max-queue-delay-us", args->max_queue_delay_us,
                    "Dynamic batching: longest wait for a batch to fill, in microseconds");
    cmd->add_option("--max-queued", args->max_queued,
                    "Requests waiting or running at once; beyond, 503 with Retry-After");
    cmd->add_option("--log-sample-rate", args->log_sample_rate,
                    "Share of predictions written to the prediction log (0..1)");
  };

  CLI::App* create = deploy->add_subcommand("create", "Serve a registered model as a deployment");
  create->add_option("name", args->name, "Deployment name")->required();
  create->add_option("--model", args->model, "models:/NAME@ALIAS, models:/NAME/VERSION or /STAGE")
      ->required();
  limits(create);
  AddServerOptions(create, &args->server);
  AddKubernetesOptions(create, args.get());
  create->callback([args] {
    if (args->target == "kubernetes") return CreateOnKubernetes(*args);
    for (CLI::Option* option : args->kubernetes_options) {
      if (option->count() > 0) ThrowInvalid(option->get_name() + " needs --target kubernetes");
    }
    ApiClient client(ResolveTrackingUri(args->server.tracking_uri));
    json body = Limits(*args);
    body["name"] = args->name;
    body["model_uri"] = args->model;
    Show(*args, client.Post(kDeployments, body));
  });

  CLI::App* canary = deploy->add_subcommand(
      "canary", "Send a share of a deployment's requests to another model version");
  canary->add_option("name", args->name, "Deployment name")->required();
  canary->add_option("model", args->model, "models:/... reference of the canary");
  canary->add_option("--weight", args->weight, "Percent of requests for the canary")
      ->capture_default_str()
      ->check(CLI::Range(0, 100));
  canary->add_flag("--clear", args->clear, "Remove the canary (all traffic to the primary)");
  AddServerOptions(canary, &args->server);
  canary->callback([args] {
    ApiClient client(ResolveTrackingUri(args->server.tracking_uri));
    json body = {{"canary_uri", args->clear ? "" : args->model}, {"canary_weight", args->weight}};
    if (!args->clear && args->model.empty()) ThrowInvalid("name the canary's model, or --clear");
    Show(*args, client.Patch(kDeployments + "/" + args->name, body));
  });

  CLI::App* shadow = deploy->add_subcommand(
      "shadow", "Mirror a deployment's requests to another model version (answers discarded)");
  shadow->add_option("name", args->name, "Deployment name")->required();
  shadow->add_option("model", args->model, "models:/... reference of the shadow");
  shadow->add_flag("--clear", args->clear, "Stop mirroring");
  AddServerOptions(shadow, &args->server);
  shadow->callback([args] {
    ApiClient client(ResolveTrackingUri(args->server.tracking_uri));
    if (!args->clear && args->model.empty()) ThrowInvalid("name the shadow's model, or --clear");
    Show(*args, client.Patch(kDeployments + "/" + args->name,
                             {{"shadow_uri", args->clear ? "" : args->model}}));
  });

  CLI::App* update = deploy->add_subcommand("update", "Change a deployment's model or limits");
  update->add_option("name", args->name, "Deployment name")->required();
  update->add_option("--model", args->model, "Follow another models:/... reference");
  limits(update);
  AddServerOptions(update, &args->server);
  update->callback([args] {
    ApiClient client(ResolveTrackingUri(args->server.tracking_uri));
    json body = Limits(*args);
    if (!args->model.empty()) body["model_uri"] = args->model;
    Show(*args, client.Patch(kDeployments + "/" + args->name, body));
  });

  CLI::App* rollback = deploy->add_subcommand(
      "rollback", "Remove the canary, or return to the version served before the last swap");
  rollback->add_option("name", args->name, "Deployment name")->required();
  AddServerOptions(rollback, &args->server);
  rollback->callback([args] {
    ApiClient client(ResolveTrackingUri(args->server.tracking_uri));
    Show(*args, client.Post(kDeployments + "/" + args->name + "/rollback", json::object()));
  });

  CLI::App* promote = deploy->add_subcommand(
      "promote",
      "Make the canary's version the primary and remove the canary (moves the alias the "
      "deployment follows)");
  promote->add_option("name", args->name, "Deployment name")->required();
  AddServerOptions(promote, &args->server);
  promote->callback([args] {
    ApiClient client(ResolveTrackingUri(args->server.tracking_uri));
    Show(*args, client.Post(kDeployments + "/" + args->name + "/promote", json::object()));
  });

  CLI::App* show = deploy->add_subcommand("show", "A deployment's versions, traffic and events");
  show->add_option("name", args->name, "Deployment name")->required();
  AddServerOptions(show, &args->server);
  show->callback([args] {
    ApiClient client(ResolveTrackingUri(args->server.tracking_uri));
    Show(*args, client.Get(kDeployments + "/" + args->name));
  });

  CLI::App* ls = deploy->add_subcommand("ls", "List deployments");
  AddServerOptions(ls, &args->server);
  ls->callback([args] {
    ApiClient client(ResolveTrackingUri(args->server.tracking_uri));
    json reply = client.Get(kDeployments);
    if (args->server.json) {
      PrintJson(reply);
      return;
    }
    Table table({{"NAME", Table::Align::kLeft, false},
                 {"MODEL"},
                 {"SERVING", Table::Align::kRight, false},
                 {"CANARY"},
                 {"SHADOW"},
                 {"STATE"}});
    for (const json& d : ArrayField(reply, "deployments")) {
      std::string serving;
      std::string state = "ready";
      for (const json& v : ArrayField(d, "versions")) {
        if (StringField(v, "role") == "primary" && StringField(v, "state") == "ready") {
          serving = StringField(v, "version");
        }
        if (StringField(v, "state") != "ready")
          state = StringField(v, "role") + " " + StringField(v, "state");
      }
      std::string canary = StringField(d, "canary_uri");
      if (!canary.empty()) canary += " (" + Cell(Field(d, "canary_weight")) + "%)";
      table.AddRow({StringField(d, "name"), StringField(d, "model_uri"), serving, canary,
                    StringField(d, "shadow_uri"), state});
    }
    PrintTable(table);
  });

  CLI::App* remove = deploy->add_subcommand("delete", "Stop serving and forget a deployment");
  remove->add_option("name", args->name, "Deployment name")->required();
  AddServerOptions(remove, &args->server);
  remove->callback([args] {
    ApiClient client(ResolveTrackingUri(args->server.tracking_uri));
    client.Delete(kDeployments + "/" + args->name, json::object());
    if (!args->server.json) std::cout << "deleted deployment " << args->name << "\n";
  });
}

}  // namespace

void AddServeCommands(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* serve = app.add_subcommand(
      "serve", "Serve one model (an MLflow Model folder or models:/ reference) on its own");
  serve
      ->add_option("model", args->model,
                   "A local MLflow Model folder, or models:/NAME@ALIAS (or /VERSION, /STAGE) "
                   "from the tracking server")
      ->required();
  serve->add_option("--host", args->host, "Address to listen on")->capture_default_str();
  serve->add_option("--port,-p", args->port, "Port to listen on")->capture_default_str();
  serve
      ->add_option("--grpc-port", args->grpc_port,
                   "Also serve the Open Inference Protocol v2 over gRPC on this port (0: off)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  serve
      ->add_option("--grpc-threads", args->grpc_threads,
                   "Threads gRPC may run calls on; beyond, new calls are refused with "
                   "RESOURCE_EXHAUSTED")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  serve->add_option("--threads", args->threads, "Worker threads: requests handled at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  serve
      ->add_option("--io-threads", args->io_threads,
                   "Threads reading requests and writing replies; 0 is one per core the "
                   "process may use (its CPU affinity and cgroup quota)")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  serve
      ->add_option("--max-batch-rows", args->max_batch_rows,
                   "Dynamic batching: rows per model call (0: off)")
      ->capture_default_str();
  serve
      ->add_option("--max-queue-delay-us", args->max_queue_delay_us,
                   "Dynamic batching: longest wait for a batch to fill, in microseconds")
      ->capture_default_str();
  serve
      ->add_option("--max-queued", args->max_queued,
                   "Requests waiting or running at once; beyond, 503 with Retry-After")
      ->capture_default_str();
  serve
      ->add_option("--env-manager", args->env_manager,
                   "Python flavors: local (this environment) or virtualenv (the model's own)")
      ->capture_default_str()
      ->check(CLI::IsMember({"local", "virtualenv"}));
  serve->add_option("--python", args->python, "Interpreter for Python flavors")
      ->capture_default_str();
  serve->add_option("--workers", args->python_workers, "Python worker processes (Python flavors)")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  serve->add_option("--cache-dir", args->cache_dir, "Where models:/ downloads are kept");
  serve->add_flag("--no-access-log", args->no_access_log, "Do not log a line per request");
  AddTrackingUriOption(serve, &args->tracking_uri);
  serve->callback([args] { RunServe(*args); });
  AddDeployCommands(app);
}

}  // namespace slipway::cli
