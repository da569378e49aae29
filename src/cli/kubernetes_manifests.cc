#include "cli/kubernetes_manifests.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <iostream>
#include <regex>

#include "core/durable_file.h"
#include "core/error.h"
#include "serving/serving_service.h"

extern char** environ;

namespace slipway::cli {
namespace {

using Json = nlohmann::ordered_json;

// The name every object of a model deployment is labelled with, as the
// Helm chart's model deployments are.
const char* const kAppName = "slipway-model";
const char* const kCachePath = "/var/cache/slipway";

// --- Checking the options.

// Kubernetes' quantity syntax (k8s.io/apimachinery resource.Quantity):
// a decimal number and an optional binary or decimal suffix or exponent.
bool IsQuantity(const std::string& text) {
  static const std::regex kQuantity(
      R"(^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][-+]?[0-9]+)?$)");
  return std::regex_match(text, kQuantity);
}

void CheckQuantity(const char* option, const std::string& value, bool may_be_empty) {
  if (value.empty() && may_be_empty) return;
  if (!IsQuantity(value)) {
    ThrowInvalid(std::string(option) + ": '" + value +
                 "' is not a Kubernetes quantity (e.g. 500m or 2 for CPU, 512Mi or 1Gi for "
                 "memory)");
  }
}

// An RFC 1123 label: what a namespace or a Secret's name must be.
bool IsDnsLabel(const std::string& text) {
  static const std::regex kLabel("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$");
  return std::regex_match(text, kLabel);
}

void CheckOptions(const KubernetesModelOptions& o) {
  if (o.image.empty()) ThrowInvalid("--image: empty");
  if (o.image_pull_policy != "IfNotPresent" && o.image_pull_policy != "Always" &&
      o.image_pull_policy != "Never") {
    ThrowInvalid("--image-pull-policy: '" + o.image_pull_policy +
                 "' is none of IfNotPresent, Always, Never");
  }
  if (!o.namespace_name.empty() && !IsDnsLabel(o.namespace_name)) {
    ThrowInvalid("--namespace: '" + o.namespace_name +
                 "' is not a Kubernetes namespace name (lower-case letters, digits and '-', "
                 "at most 63)");
  }
  if (!o.credentials_secret.empty() && !IsDnsLabel(o.credentials_secret)) {
    ThrowInvalid("--credentials-secret: '" + o.credentials_secret +
                 "' is not a Kubernetes Secret name");
  }
  if (o.tracking_uri.rfind("http://", 0) != 0 && o.tracking_uri.rfind("https://", 0) != 0) {
    ThrowInvalid("--tracking-uri: '" + o.tracking_uri +
                 "' is not an http:// or https:// URL of the tracking server");
  }
  if (o.replicas < 1) ThrowInvalid("--replicas: must be at least 1");
  if (o.max_replicas != 0 && o.max_replicas < o.replicas) {
    ThrowInvalid("--max-replicas: " + std::to_string(o.max_replicas) +
                 " is fewer than --replicas " + std::to_string(o.replicas));
  }
  if (!o.autoscale_metric.empty() && o.autoscale_metric != "queue" &&
      o.autoscale_metric != "rate") {
    ThrowInvalid("--autoscale-metric: '" + o.autoscale_metric + "' is neither queue nor rate");
  }
  if (!(o.autoscale_target >= 0) || !std::isfinite(o.autoscale_target)) {
    ThrowInvalid("--autoscale-target: must be a positive number");
  }
  const bool autoscaled = o.max_replicas > o.replicas;
  if (!autoscaled && (!o.autoscale_metric.empty() || o.autoscale_target > 0)) {
    ThrowInvalid(std::string(o.autoscale_target > 0 ? "--autoscale-target" : "--autoscale-metric") +
                 ": there is no autoscaler without --max-replicas above --replicas");
  }
  CheckQuantity("--cpu-request", o.cpu_request, true);
  CheckQuantity("--cpu-limit", o.cpu_limit, true);
  CheckQuantity("--memory-request", o.memory_request, true);
  CheckQuantity("--memory-limit", o.memory_limit, true);
  if (o.port < 1 || o.port > 65535) ThrowInvalid("--port: must be 1-65535");
  if (o.threads < 0) ThrowInvalid("--threads: must not be negative");
}

void CheckSpec(const serving::DeploymentSpec& spec) {
  serving::ValidateDeploymentName(spec.name);
  serving::ModelRef::Parse(spec.model_uri);
  if (!spec.canary_uri.empty() || !spec.shadow_uri.empty()) {
    ThrowInvalid("deployment '" + spec.name +
                 "': a canary or shadow needs a server's deployment; on Kubernetes, deploy the "
                 "other version as a deployment of its own");
  }
  if (spec.log_sample_rate < 1.0) {
    ThrowInvalid(
        "--log-sample-rate: `slipway serve` keeps no prediction log, so it has no "
        "meaning with --target kubernetes");
  }
  if (spec.max_queued < 1) ThrowInvalid("--max-queued: must be at least 1");
  if (spec.max_batch_rows < 0) ThrowInvalid("--max-batch-rows: must not be negative");
  if (spec.max_queue_delay_us < 0) ThrowInvalid("--max-queue-delay-us: must not be negative");
}

// A number as Kubernetes writes a quantity: "8", "0.5".
std::string QuantityText(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

// --- The objects.

Json Metadata(const std::string& name, const KubernetesModelOptions& o,
              const serving::DeploymentSpec& spec) {
  Json metadata = Json::object();
  metadata["name"] = name;
  if (!o.namespace_name.empty()) metadata["namespace"] = o.namespace_name;
  metadata["labels"] = {{"app.kubernetes.io/name", kAppName},
                        {"app.kubernetes.io/instance", name},
                        {"app.kubernetes.io/component", "model"},
                        {"app.kubernetes.io/part-of", "slipway"},
                        {"app.kubernetes.io/managed-by", "slipway"}};
  // Free text (a registered model's name may hold any character): an
  // annotation, never a label.
  metadata["annotations"] = {{"slipway.dev/deployment", spec.name},
                             {"slipway.dev/model-uri", spec.model_uri}};
  return metadata;
}

Json SelectorLabels(const std::string& name) {
  return {{"app.kubernetes.io/name", kAppName}, {"app.kubernetes.io/instance", name}};
}

// `slipway serve` with the deployment's settings.
Json ServeArgs(const serving::DeploymentSpec& spec, const KubernetesModelOptions& o) {
  Json args = Json::array({"serve", spec.model_uri, "--host", "0.0.0.0", "--port",
                           std::to_string(o.port), "--tracking-uri", o.tracking_uri, "--cache-dir",
                           kCachePath, "--max-queued", std::to_string(spec.max_queued)});
  if (spec.max_batch_rows > 0) {
    args.push_back("--max-batch-rows");
    args.push_back(std::to_string(spec.max_batch_rows));
    args.push_back("--max-queue-delay-us");
    args.push_back(std::to_string(spec.max_queue_delay_us));
  }
  if (o.threads > 0) {
    args.push_back("--threads");
    args.push_back(std::to_string(o.threads));
  }
  return args;
}

Json Resources(const KubernetesModelOptions& o) {
  Json requests = Json::object();
  if (!o.cpu_request.empty()) requests["cpu"] = o.cpu_request;
  if (!o.memory_request.empty()) requests["memory"] = o.memory_request;
  Json limits = Json::object();
  if (!o.cpu_limit.empty()) limits["cpu"] = o.cpu_limit;
  if (!o.memory_limit.empty()) limits["memory"] = o.memory_limit;
  Json resources = Json::object();
  if (!requests.empty()) resources["requests"] = requests;
  if (!limits.empty()) resources["limits"] = limits;
  return resources;
}

Json Probe(const char* path, int period_seconds, int failure_threshold) {
  return {{"httpGet", {{"path", path}, {"port", "http"}}},
          {"periodSeconds", period_seconds},
          {"timeoutSeconds", 2},
          {"failureThreshold", failure_threshold}};
}

Json Container(const serving::DeploymentSpec& spec, const KubernetesModelOptions& o) {
  Json container = Json::object();
  container["name"] = "serve";
  container["image"] = o.image;
  container["imagePullPolicy"] = o.image_pull_policy;
  container["args"] = ServeArgs(spec, o);
  container["ports"] = Json::array({{{"name", "http"}, {"containerPort", o.port}}});
  if (!o.credentials_secret.empty()) {
    container["envFrom"] = Json::array({{{"secretRef", {{"name", o.credentials_secret}}}}});
  }
  // The model is loaded, and has answered its input example, before the
  // port opens: /health answering means loaded. The start-up probe allows
  // five minutes for the download; /ping says whether a version serves.
  container["startupProbe"] = Probe("/health", 5, 60);
  container["livenessProbe"] = Probe("/health", 10, 3);
  container["readinessProbe"] = Probe("/ping", 5, 2);
  const Json resources = Resources(o);
  if (!resources.empty()) container["resources"] = resources;
  container["securityContext"] = {{"allowPrivilegeEscalation", false},
                                  {"readOnlyRootFilesystem", true},
                                  {"capabilities", {{"drop", Json::array({"ALL"})}}}};
  container["volumeMounts"] = Json::array({{{"name", "model-cache"}, {"mountPath", kCachePath}},
                                           {{"name", "tmp"}, {"mountPath", "/tmp"}}});
  return container;
}

KubernetesObject DeploymentObject(const std::string& name, const serving::DeploymentSpec& spec,
                                  const KubernetesModelOptions& o) {
  Json pod_metadata = Json::object();
  pod_metadata["labels"] = SelectorLabels(name);
  pod_metadata["labels"]["app.kubernetes.io/component"] = "model";
  pod_metadata["annotations"] = {{"prometheus.io/scrape", "true"},
                                 {"prometheus.io/port", std::to_string(o.port)},
                                 {"prometheus.io/path", "/metrics"}};
  Json pod_spec = Json::object();
  pod_spec["securityContext"] = {{"runAsNonRoot", true},
                                 {"runAsUser", 65532},
                                 {"runAsGroup", 65532},
                                 {"seccompProfile", {{"type", "RuntimeDefault"}}}};
  pod_spec["terminationGracePeriodSeconds"] = 30;
  pod_spec["containers"] = Json::array({Container(spec, o)});
  pod_spec["volumes"] = Json::array({{{"name", "model-cache"}, {"emptyDir", Json::object()}},
                                     {{"name", "tmp"}, {"emptyDir", Json::object()}}});

  Json body = Json::object();
  body["apiVersion"] = "apps/v1";
  body["kind"] = "Deployment";
  body["metadata"] = Metadata(name, o, spec);
  Json deployment_spec = Json::object();
  // With an autoscaler the replica count is its to set; a replicas field
  // would be put back at every apply.
  if (o.max_replicas <= o.replicas) deployment_spec["replicas"] = o.replicas;
  deployment_spec["selector"] = {{"matchLabels", SelectorLabels(name)}};
  // A new pod serves before an old one goes.
  deployment_spec["strategy"] = {{"type", "RollingUpdate"},
                                 {"rollingUpdate", {{"maxUnavailable", 0}, {"maxSurge", 1}}}};
  deployment_spec["template"] = {{"metadata", pod_metadata}, {"spec", pod_spec}};
  body["spec"] = deployment_spec;
  return {"Deployment", name, body};
}

KubernetesObject ServiceObject(const std::string& name, const serving::DeploymentSpec& spec,
                               const KubernetesModelOptions& o) {
  Json body = Json::object();
  body["apiVersion"] = "v1";
  body["kind"] = "Service";
  body["metadata"] = Metadata(name, o, spec);
  body["spec"] = {
      {"type", "ClusterIP"},
      {"selector", SelectorLabels(name)},
      {"ports", Json::array({{{"name", "http"}, {"port", o.port}, {"targetPort", "http"}}})}};
  return {"Service", name, body};
}

KubernetesObject AutoscalerObject(const std::string& name, const serving::DeploymentSpec& spec,
                                  const KubernetesModelOptions& o) {
  const bool queue = o.autoscale_metric != "rate";
  const double target = o.autoscale_target > 0 ? o.autoscale_target : (queue ? 8 : 100);
  Json body = Json::object();
  body["apiVersion"] = "autoscaling/v2";
  body["kind"] = "HorizontalPodAutoscaler";
  body["metadata"] = Metadata(name, o, spec);
  // A Pods metric is served by a custom metrics adapter (prometheus-adapter)
  // from what Prometheus scraped off each pod's /metrics.
  Json metric = {
      {"type", "Pods"},
      {"pods",
       {{"metric",
         {{"name", queue ? "slipway_serving_queue_depth" : "slipway_serving_requests_per_second"}}},
        {"target", {{"type", "AverageValue"}, {"averageValue", QuantityText(target)}}}}}};
  body["spec"] = {
      {"scaleTargetRef", {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", name}}},
      {"minReplicas", o.replicas},
      {"maxReplicas", o.max_replicas},
      {"metrics", Json::array({metric})}};
  return {"HorizontalPodAutoscaler", name, body};
}

KubernetesObject ServiceMonitorObject(const std::string& name, const serving::DeploymentSpec& spec,
                                      const KubernetesModelOptions& o) {
  Json body = Json::object();
  body["apiVersion"] = "monitoring.coreos.com/v1";
  body["kind"] = "ServiceMonitor";
  body["metadata"] = Metadata(name, o, spec);
  body["spec"] = {
      {"selector", {{"matchLabels", SelectorLabels(name)}}},
      {"endpoints", Json::array({{{"port", "http"}, {"path", "/metrics"}, {"interval", "15s"}}})}};
  return {"ServiceMonitor", name, body};
}

// --- YAML.

// Whether a plain scalar `text` would be read back as something other than
// a string (YAML 1.1 or 1.2: a number, a boolean, null), so it must be
// quoted. yaml-cpp quotes only what it cannot write plainly.
bool ReadsAsNonString(const std::string& text) {
  static const std::regex kSpecial(
      "^(|~|null|Null|NULL|true|True|TRUE|false|False|FALSE|yes|Yes|YES|no|No|NO|on|On|ON|off|"
      "Off|OFF|y|Y|n|N|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN))$");
  static const std::regex kNumber(
      "^[-+]?([0-9][0-9_]*(\\.[0-9_]*)?|\\.[0-9_]+)([eE][-+]?[0-9]+)?$|^0[xob][0-9a-fA-F_]+$|"
      "^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\\.[0-9_]*)?$");
  return std::regex_match(text, kSpecial) || std::regex_match(text, kNumber);
}

void Emit(YAML::Emitter& out, const Json& value) {
  switch (value.type()) {
    case Json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [key, item] : value.items()) {
        out << YAML::Key << key << YAML::Value;
        if (item.is_object() && item.empty()) {
          out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        } else {
          Emit(out, item);
        }
      }
      out << YAML::EndMap;
      break;
    case Json::value_t::array:
      out << YAML::BeginSeq;
      for (const Json& item : value) Emit(out, item);
      out << YAML::EndSeq;
      break;
    case Json::value_t::string: {
      const std::string& text = value.get_ref<const std::string&>();
      if (ReadsAsNonString(text)) out << YAML::DoubleQuoted;
      out << text;
      break;
    }
    case Json::value_t::boolean:
      out << value.get<bool>();
      break;
    case Json::value_t::number_integer:
      out << value.get<int64_t>();
      break;
    case Json::value_t::number_unsigned:
      out << value.get<uint64_t>();
      break;
    case Json::value_t::number_float:
      out << value.get<double>();
      break;
    default:
      out << YAML::Null;
  }
}

// Runs `argv` (searched on PATH) with `input` on its stdin (nothing when
// null: /dev/null) and its stdout and stderr captured into `*output` when
// given, else passed through. Returns the exit status, or -1 when it could
// not start (errno in *spawn_error).
int RunProcess(const std::vector<std::string>& argv, const std::string* input, std::string* output,
               int* spawn_error) {
  int in[2] = {-1, -1};
  int out[2] = {-1, -1};
  if (input != nullptr && ::pipe2(in, O_CLOEXEC) != 0)
    throw Error(ErrorCode::kInternalError, std::string("pipe: ") + std::strerror(errno));
  if (output != nullptr && ::pipe2(out, O_CLOEXEC) != 0)
    throw Error(ErrorCode::kInternalError, std::string("pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (input != nullptr) {
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  if (output != nullptr) {
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDERR_FILENO);
  }
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (input != nullptr) ::close(in[0]);
  if (output != nullptr) ::close(out[1]);
  if (spawned != 0) {
    if (input != nullptr) ::close(in[1]);
    if (output != nullptr) ::close(out[0]);
    *spawn_error = spawned;
    return -1;
  }
  if (input != nullptr) {
    // kubectl reads all of its input before it answers: write it whole,
    // then read. A child that exits early makes write fail with EPIPE
    // (SIGPIPE ignored, so this process lives on): its status says why.
    ::signal(SIGPIPE, SIG_IGN);
    size_t written = 0;
    while (written < input->size()) {
      ssize_t n = ::write(in[1], input->data() + written, input->size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      written += static_cast<size_t>(n);
    }
    ::close(in[1]);
  }
  if (output != nullptr) {
    char buffer[4096];
    for (;;) {
      ssize_t n = ::read(out[0], buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      output->append(buffer, static_cast<size_t>(n));
    }
    ::close(out[0]);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string Trimmed(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

}  // namespace

std::string KubernetesName(const std::string& deployment_name) {
  std::string name;
  for (char c : deployment_name) {
    if (c == '_' || c == '.') c = '-';
    name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  while (!name.empty() && name.back() == '-') name.pop_back();
  if (!IsDnsLabel(name)) {
    ThrowInvalid("deployment name '" + deployment_name + "' cannot be a Kubernetes name ('" + name +
                 "': at most 63 lower-case letters, digits and '-'); choose a shorter one");
  }
  return name;
}

std::vector<KubernetesObject> ModelDeploymentObjects(const serving::DeploymentSpec& spec,
                                                     const KubernetesModelOptions& options) {
  KubernetesModelOptions o = options;
  if (o.image.empty()) o.image = std::string("slipway:") + SLIPWAY_VERSION_STRING;
  CheckSpec(spec);
  CheckOptions(o);
  const std::string name = KubernetesName(spec.name);
  std::vector<KubernetesObject> objects;
  objects.push_back(DeploymentObject(name, spec, o));
  objects.push_back(ServiceObject(name, spec, o));
  if (o.max_replicas > o.replicas) objects.push_back(AutoscalerObject(name, spec, o));
  if (o.service_monitor) objects.push_back(ServiceMonitorObject(name, spec, o));
  return objects;
}

std::string ToYaml(const KubernetesObject& object) {
  YAML::Emitter out;
  out.SetIndent(2);
  out.SetSeqFormat(YAML::Block);
  Emit(out, object.body);
  if (!out.good())
    throw Error(ErrorCode::kInternalError,
                "writing " + object.kind + " as YAML: " + out.GetLastError());
  return std::string(out.c_str()) + "\n";
}

std::string ToYaml(const std::vector<KubernetesObject>& objects) {
  std::string yaml;
  for (const KubernetesObject& object : objects) yaml += "---\n" + ToYaml(object);
  return yaml;
}

std::vector<std::filesystem::path> WriteManifests(const std::filesystem::path& folder,
                                                  const std::vector<KubernetesObject>& objects) {
  std::error_code error;
  std::filesystem::create_directories(folder, error);
  if (error) ThrowInvalid("--output: cannot create '" + folder.string() + "': " + error.message());
  std::vector<std::filesystem::path> files;
  for (const KubernetesObject& object : objects) {
    std::string kind = object.kind;
    std::transform(kind.begin(), kind.end(), kind.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::filesystem::path file = folder / (kind + "-" + object.name + ".yaml");
    WriteFileDurably(file, ToYaml(object));
    files.push_back(std::move(file));
  }
  return files;
}

void ApplyWithKubectl(const std::string& yaml) {
  std::string context;
  int spawn_error = 0;
  int status =
      RunProcess({"kubectl", "config", "current-context"}, nullptr, &context, &spawn_error);
  if (status < 0) {
    ThrowInvalid("--apply: cannot run kubectl (" + std::string(std::strerror(spawn_error)) +
                 "): install it, or use --output to write the manifests");
  }
  if (status != 0) {
    ThrowInvalid("--apply: kubectl has no current context (`kubectl config current-context`: " +
                 Trimmed(context) +
                 "); nothing was applied. Set one (kubectl config use-context), or use --output "
                 "to write the manifests");
  }
  std::cerr << "applying to kubectl context " << Trimmed(context) << "\n";
  status = RunProcess({"kubectl", "apply", "-f", "-"}, &yaml, nullptr, &spawn_error);
  if (status != 0) {
    ThrowInvalid("--apply: `kubectl apply -f -` failed (exit status " + std::to_string(status) +
                 ")");
  }
}

}  // namespace slipway::cli
