#include "cli/kubernetes_manifests.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace slipway::cli {
namespace {

serving::DeploymentSpec Spec(const std::string& name = "churn",
                             const std::string& uri = "models:/churn@production") {
  serving::DeploymentSpec spec;
  spec.name = name;
  spec.model_uri = uri;
  return spec;
}

// The message of the Error(kInvalidParameterValue) `call` throws.
template <typename Call>
std::string Refusal(Call call) {
  try {
    call();
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidParameterValue);
    return error.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

TEST(KubernetesNameTest, LowerCaseWithDashes) {
  EXPECT_EQ(KubernetesName("churn"), "churn");
  EXPECT_EQ(KubernetesName("Churn_Model.v2"), "churn-model-v2");
  EXPECT_EQ(KubernetesName("model_"), "model");
  EXPECT_EQ(KubernetesName(std::string(63, 'a')), std::string(63, 'a'));
  EXPECT_NE(Refusal([] { KubernetesName(std::string(64, 'a')); }).find("cannot be a Kubernetes"),
            std::string::npos);
}

// Each object's YAML parsed back: what kubectl would read.
std::vector<YAML::Node> Parsed(const std::vector<KubernetesObject>& objects) {
  std::vector<YAML::Node> nodes;
  for (const YAML::Node& node : YAML::LoadAll(ToYaml(objects))) nodes.push_back(node);
  return nodes;
}

TEST(ModelDeploymentObjectsTest, DeploymentAndServiceFromTheSpecsSettings) {
  serving::DeploymentSpec spec = Spec();
  spec.max_batch_rows = 32;
  spec.max_queue_delay_us = 500;
  spec.max_queued = 64;
  KubernetesModelOptions options;
  options.image = "registry.example/slipway:1.2";
  options.replicas = 3;
  std::vector<KubernetesObject> objects = ModelDeploymentObjects(spec, options);
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_EQ(objects[0].kind, "Deployment");
  EXPECT_EQ(objects[1].kind, "Service");

  std::vector<YAML::Node> docs = Parsed(objects);
  ASSERT_EQ(docs.size(), 2u);
  const YAML::Node deployment = docs[0];
  EXPECT_EQ(deployment["spec"]["replicas"].as<int>(), 3);
  const YAML::Node container = deployment["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(container["image"].as<std::string>(), "registry.example/slipway:1.2");
  std::vector<std::string> args = container["args"].as<std::vector<std::string>>();
  const std::vector<std::string> expected = {"serve",
                                             "models:/churn@production",
                                             "--host",
                                             "0.0.0.0",
                                             "--port",
                                             "8080",
                                             "--tracking-uri",
                                             "http://slipway:5000",
                                             "--cache-dir",
                                             "/var/cache/slipway",
                                             "--max-queued",
                                             "64",
                                             "--max-batch-rows",
                                             "32",
                                             "--max-queue-delay-us",
                                             "500"};
  EXPECT_EQ(args, expected);
  EXPECT_EQ(container["resources"]["requests"]["cpu"].as<std::string>(), "500m");
  EXPECT_EQ(docs[1]["spec"]["selector"]["app.kubernetes.io/instance"].as<std::string>(), "churn");
}

TEST(ModelDeploymentObjectsTest, AnAutoscalerOnlyWhenReplicasMayGrow) {
  KubernetesModelOptions options;
  options.replicas = 2;
  options.max_replicas = 5;
  options.autoscale_metric = "rate";
  options.autoscale_target = 42.5;
  std::vector<KubernetesObject> objects = ModelDeploymentObjects(Spec(), options);
  ASSERT_EQ(objects.size(), 3u);
  std::vector<YAML::Node> docs = Parsed(objects);
  EXPECT_FALSE(docs[0]["spec"]["replicas"]) << "the autoscaler sets the replicas";
  const YAML::Node hpa = docs[2];
  EXPECT_EQ(hpa["kind"].as<std::string>(), "HorizontalPodAutoscaler");
  EXPECT_EQ(hpa["spec"]["minReplicas"].as<int>(), 2);
  EXPECT_EQ(hpa["spec"]["maxReplicas"].as<int>(), 5);
  const YAML::Node pods = hpa["spec"]["metrics"][0]["pods"];
  EXPECT_EQ(pods["metric"]["name"].as<std::string>(), "slipway_serving_requests_per_second");
  EXPECT_EQ(pods["target"]["averageValue"].as<std::string>(), "42.5");

  options.service_monitor = true;
  objects = ModelDeploymentObjects(Spec(), options);
  ASSERT_EQ(objects.size(), 4u);
  EXPECT_EQ(objects[3].kind, "ServiceMonitor");
}

TEST(ToYamlTest, QuotesStringsYamlWouldReadAsSomethingElse) {
  KubernetesModelOptions options;
  options.credentials_secret = "123";
  options.image = "true";
  options.namespace_name = "1e3";
  const std::string yaml = ToYaml(ModelDeploymentObjects(Spec(), options));
  EXPECT_NE(yaml.find("name: \"123\""), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("image: \"true\""), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("namespace: \"1e3\""), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("prometheus.io/port: \"8080\""), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("- \"8080\""), std::string::npos) << "the --port argument";
  EXPECT_NE(yaml.find("containerPort: 8080\n"), std::string::npos) << "a number stays one";
  EXPECT_NE(yaml.find("emptyDir: {}"), std::string::npos) << yaml;
  EXPECT_EQ(yaml.rfind("---\n", 0), 0u);
}

TEST(ModelDeploymentObjectsTest, RefusesWhatCannotRunOnKubernetes) {
  auto refusal = [](serving::DeploymentSpec spec, KubernetesModelOptions options) {
    return Refusal([&] { ModelDeploymentObjects(spec, options); });
  };
  KubernetesModelOptions ok;
  serving::DeploymentSpec canary = Spec();
  canary.canary_uri = "models:/churn/2";
  EXPECT_NE(refusal(canary, ok).find("canary or shadow"), std::string::npos);
  serving::DeploymentSpec sampled = Spec();
  sampled.log_sample_rate = 0.5;
  EXPECT_NE(refusal(sampled, ok).find("--log-sample-rate"), std::string::npos);
  EXPECT_NE(refusal(Spec("churn", "churn@production"), ok).find("models:/"), std::string::npos);

  for (const char* bad : {"lots", "1GB", "-1", "1.5.0", "Mi"}) {
    KubernetesModelOptions options;
    options.memory_request = bad;
    EXPECT_NE(
        refusal(Spec(), options)
            .find("--memory-request: '" + std::string(bad) + "' is not a Kubernetes quantity"),
        std::string::npos)
        << bad;
  }
  for (const char* good : {"1", "0.5", ".5", "500m", "1.5Gi", "2e3", "128974848", "1k"}) {
    KubernetesModelOptions options;
    options.cpu_limit = good;
    EXPECT_NO_THROW(ModelDeploymentObjects(Spec(), options)) << good;
  }
  KubernetesModelOptions fewer;
  fewer.replicas = 3;
  fewer.max_replicas = 2;
  EXPECT_NE(refusal(Spec(), fewer).find("--max-replicas: 2 is fewer than --replicas 3"),
            std::string::npos);
  KubernetesModelOptions unscaled;
  unscaled.autoscale_target = 4;
  EXPECT_NE(refusal(Spec(), unscaled).find("no autoscaler"), std::string::npos);
  KubernetesModelOptions namespaced;
  namespaced.namespace_name = "Team_A";
  EXPECT_NE(refusal(Spec(), namespaced).find("--namespace"), std::string::npos);
}

TEST(WriteManifestsTest, OneFilePerObject) {
  const std::filesystem::path folder =
      std::filesystem::path(::testing::TempDir()) / "k8s-manifests-test";
  std::filesystem::remove_all(folder);
  KubernetesModelOptions options;
  options.max_replicas = 4;
  std::vector<KubernetesObject> objects = ModelDeploymentObjects(Spec(), options);
  std::vector<std::filesystem::path> files = WriteManifests(folder, objects);
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0].filename(), "deployment-churn.yaml");
  EXPECT_EQ(files[2].filename(), "horizontalpodautoscaler-churn.yaml");
  std::ifstream in(files[1]);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), ToYaml(objects[1]));
  std::filesystem::remove_all(folder);
}

}  // namespace
}  // namespace slipway::cli
