// Kubernetes manifests for a model deployment: what `slipway deploy create
// NAME --model models:/... --target kubernetes` writes or applies.
//
// A deployment on Kubernetes is `slipway serve` of the deployment's model
// reference in pods of its own, fetching the model from the tracking server
// inside the cluster (the Helm chart's server): a Deployment, a Service, a
// HorizontalPodAutoscaler when the replicas may grow, and a ServiceMonitor
// when asked. Every object is built from the deployment's settings (model
// reference, batching, queue) and the Kubernetes ones below (image,
// replicas, resources, autoscaling), and written as YAML with yaml-cpp.
//
// The pods resolve an alias when they start (`slipway serve` loads one
// version and keeps it): after the alias moves, `kubectl rollout restart`
// brings the new version in, one pod at a time. Canary, shadow and the
// prediction log belong to deployments a server runs, and are refused here.
//
// Stateless functions; thread-safe. Bad settings throw
// Error(kInvalidParameterValue) naming the option.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "serving/deployment_store.h"

namespace slipway::cli {

// The Kubernetes side of a model deployment; every default is here.
struct KubernetesModelOptions {
  std::string image;  // default "slipway:<this version>"
  std::string image_pull_policy = "IfNotPresent";
  std::string namespace_name;  // empty: no namespace written (kubectl's current one)
  // The tracking server as the pods reach it (the Helm chart's Service).
  std::string tracking_uri = "http://slipway:5000";
  // A Secret whose keys become the pods' environment: MLFLOW_TRACKING_TOKEN,
  // or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, for a server
  // with --auth. Empty: none.
  std::string credentials_secret;
  int replicas = 1;
  // Above `replicas`: a HorizontalPodAutoscaler from `replicas` to this.
  int max_replicas = 0;
  // "queue" (also when empty): slipway_serving_queue_depth averaged over
  // the pods (requests waiting or running); "rate":
  // slipway_serving_requests_per_second, the rate of
  // slipway_serving_requests_total that a metrics adapter derives. Given
  // without an autoscaler (max_replicas), it is refused.
  std::string autoscale_metric;
  // The per-pod average the autoscaler keeps; 0: 8 requests queued, or 100
  // requests per second.
  double autoscale_target = 0;
  std::string cpu_request = "500m";
  std::string cpu_limit = "2";
  std::string memory_request = "256Mi";
  std::string memory_limit = "1Gi";
  int port = 8080;
  int threads = 0;  // `slipway serve --threads`; 0: its default
  bool service_monitor = false;
};

// One Kubernetes object, its fields in the order they are written.
struct KubernetesObject {
  std::string kind;
  std::string name;
  nlohmann::ordered_json body;
};

// The objects of `spec` deployed on Kubernetes, in the order to apply
// them. Refuses a spec with a canary, a shadow or a log sample rate below 1,
// a name that cannot become a Kubernetes name, and bad options.
std::vector<KubernetesObject> ModelDeploymentObjects(const serving::DeploymentSpec& spec,
                                                     const KubernetesModelOptions& options);

// The name of a deployment's Kubernetes objects: lower case, '_' and '.' as
// '-' (RFC 1123 label). Throws when nothing of the kind can be made.
std::string KubernetesName(const std::string& deployment_name);

// `object` as one YAML document (no "---").
std::string ToYaml(const KubernetesObject& object);
// All of them, each after a "---" line: what `kubectl apply -f -` reads.
std::string ToYaml(const std::vector<KubernetesObject>& objects);

// Writes each object to `folder`/<kind>-<name>.yaml (lower case), creating
// the folder; returns the files written.
std::vector<std::filesystem::path> WriteManifests(const std::filesystem::path& folder,
                                                  const std::vector<KubernetesObject>& objects);

// Pipes `yaml` to `kubectl apply -f -`, its output going to ours. Throws,
// having applied nothing, when kubectl is not on PATH or has no current
// context (saying which); throws when kubectl apply fails.
void ApplyWithKubectl(const std::string& yaml);

}  // namespace slipway::cli
