"""Kubernetes: the Helm chart, the plain manifests and `slipway deploy create
... --target kubernetes`, validated as a cluster would take them.

`helm lint` and `helm template` render the chart; kubeconform validates every
object against the Kubernetes API's schemas (strict: an unknown field fails)
and the Prometheus Operator's ServiceMonitor CRD. The tools and the schemas
come from `make deps-k8s` (the Go module proxy), in $SLIPWAY_K8S_TOOLS
(default build/k8s-tools): `make test` sets it and then a missing tool fails
these tests; run alone without the tools, they are skipped and say why.
No cluster is needed, and none is reached: `--apply` is tested only where it
refuses (kubectl without a context, or without kubectl).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO_ROOT, free_port, slipway_binary

CHART = REPO_ROOT / "deploy" / "helm" / "slipway"
MANIFESTS = REPO_ROOT / "deploy" / "kubernetes"
FULL_VALUES = REPO_ROOT / "tests" / "kubernetes" / "values-full.yaml"
TOOLS = Path(os.environ.get("SLIPWAY_K8S_TOOLS", REPO_ROOT / "build" / "k8s-tools"))
HELM = TOOLS / "bin" / "helm"
KUBECONFORM = TOOLS / "bin" / "kubeconform"
SCHEMAS = TOOLS / "schemas"

# The documented example (docs/kubernetes.md) whose output is committed as
# deploy/kubernetes/model-churn.yaml.
CHURN_EXAMPLE = [
    "deploy", "create", "churn", "--model", "models:/churn@production",
    "--max-batch-rows", "64", "--max-queue-delay-us", "2000", "--max-queued", "100",
    "--target", "kubernetes", "--image", "slipway:0.1.0",
    "--replicas", "2", "--max-replicas", "6", "--autoscale-metric", "queue",
    "--cpu-request", "1", "--cpu-limit", "2", "--memory-request", "512Mi",
    "--memory-limit", "2Gi", "--credentials-secret", "slipway-model-token",
    "--service-monitor", "--output", "-",
]


@pytest.fixture(scope="module", autouse=True)
def _tools():
    missing = [p for p in (HELM, KUBECONFORM, SCHEMAS / ".complete") if not p.exists()]
    if not missing:
        return
    message = f"missing {', '.join(map(str, missing))}: run `make deps-k8s`"
    if "SLIPWAY_K8S_TOOLS" in os.environ:
        pytest.fail(message)
    pytest.skip(message)


def run(argv, *, input_text=None, env=None, check=True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in argv], input=input_text, capture_output=True,
                          text=True, timeout=300, env=env)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, argv))} exited {proc.returncode}\n"
                    f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}")
    return proc


def helm(*args, check=True) -> subprocess.CompletedProcess:
    # Helm keeps nothing outside the test's reach: no cache, config or
    # repositories of the user's are read or written.
    env = dict(os.environ, HELM_CACHE_HOME="/nonexistent/cache",
               HELM_CONFIG_HOME="/nonexistent/config", HELM_DATA_HOME="/nonexistent/data")
    return run([HELM, *args], env=env, check=check)


def slipway(*args, check=True, env=None) -> subprocess.CompletedProcess:
    return run([slipway_binary(), *args], check=check, env=env)


def kubeconform(yaml_text: str, check=True) -> subprocess.CompletedProcess:
    """Validates YAML documents strictly; a kind without a schema fails too."""
    location = str(SCHEMAS / "{{ .ResourceKind }}{{ .KindSuffix }}.json")
    return run([KUBECONFORM, "-strict", "-summary", "-output", "text",
                "-schema-location", location, "-"], input_text=yaml_text, check=check)


def documents(yaml_text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(yaml_text) if d]


def one(docs: list[dict], kind: str, name: str | None = None) -> dict:
    found = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, f"{kind} {name}: {len(found)} found"
    return found[0]


def container(deployment: dict) -> dict:
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    return c


def flags(args: list[str]) -> list[str]:
    """Arguments with `--flag=value` split, so both spellings compare equal."""
    out = []
    for a in args:
        out.extend(a.split("=", 1) if a.startswith("--") and "=" in a else [a])
    return out


def test_kubeconform_refuses_a_misspelt_field_and_an_unknown_kind():
    bad = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  replicaz: 2
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec: {containers: [{name: c, image: i}]}
---
apiVersion: example.com/v1
kind: Gadget
metadata: {name: y}
"""
    proc = kubeconform(bad, check=False)
    assert proc.returncode == 1
    assert "replicaz" in proc.stdout
    assert "Gadget" in proc.stdout and "could not find schema" in proc.stdout


def test_helm_lint_passes_with_defaults_and_with_everything_on():
    out = helm("lint", "--strict", CHART).stdout
    assert "1 chart(s) linted, 0 chart(s) failed" in out
    out = helm("lint", "--strict", CHART, "-f", FULL_VALUES).stdout
    assert "1 chart(s) linted, 0 chart(s) failed" in out


def test_helm_template_defaults_validate():
    rendered = helm("template", "ml", CHART, "--namespace", "ml").stdout
    docs = documents(rendered)
    assert sorted(d["kind"] for d in docs) == ["Deployment", "PersistentVolumeClaim", "Service"]
    server = one(docs, "Deployment", "ml-slipway")
    assert server["spec"]["replicas"] == 1
    assert server["spec"]["strategy"]["type"] == "Recreate"  # one SQLite writer
    c = container(server)
    assert c["args"][:2] == ["server", "--host=0.0.0.0"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    assert c["readinessProbe"]["httpGet"]["path"] == "/health"
    volumes = server["spec"]["template"]["spec"]["volumes"]
    assert volumes[0]["persistentVolumeClaim"]["claimName"] == "ml-slipway-data"
    assert "Valid: 3, Invalid: 0, Errors: 0" in kubeconform(rendered).stdout


def test_helm_template_with_replicas_postgresql_s3_and_models_validates():
    rendered = helm("template", "ml", CHART, "--namespace", "ml", "-f", FULL_VALUES).stdout
    docs = documents(rendered)
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(["Secret", "Deployment", "Service", "Ingress", "ServiceMonitor",
                            "PodDisruptionBudget",
                            "Deployment", "Service", "HorizontalPodAutoscaler",
                            "Deployment", "Service", "HorizontalPodAutoscaler"])
    result = kubeconform(rendered).stdout
    assert f"Valid: {len(docs)}, Invalid: 0, Errors: 0" in result

    server = one(docs, "Deployment", "ml-slipway")
    assert server["spec"]["replicas"] == 3
    assert server["spec"]["strategy"]["type"] == "RollingUpdate"
    spread = server["spec"]["template"]["spec"]["topologySpreadConstraints"][0]
    assert spread["labelSelector"]["matchLabels"] == server["spec"]["selector"]["matchLabels"]
    pdb = one(docs, "PodDisruptionBudget")
    assert pdb["spec"] == {"maxUnavailable": 1,
                           "selector": server["spec"]["selector"]}
    c = container(server)
    assert "--store=$(SLIPWAY_STORE_URI)" in c["args"]
    assert "--artifacts=s3://ml-bucket/slipway" in c["args"]
    assert "--s3-endpoint=http://minio.storage:9000" in c["args"]
    assert "--auth" in c["args"] and "--log-format=json" in c["args"]
    assert "--external-url=https://slipway.example.com" in c["args"]
    env = {e["name"]: e for e in c["env"]}
    # Credentials only by reference to the Secret, never as values.
    for name, key in [("SLIPWAY_STORE_URI", "store-uri"), ("PGPASSWORD", "pg-password"),
                      ("AWS_ACCESS_KEY_ID", "aws-access-key-id"),
                      ("AWS_SECRET_ACCESS_KEY", "aws-secret-access-key"),
                      ("SLIPWAY_ADMIN_PASSWORD", "admin-password")]:
        assert env[name]["valueFrom"]["secretKeyRef"] == {
            "name": "ml-slipway", "key": key,
            "optional": name in ("PGPASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    assert env["AWS_REGION"]["value"] == "eu-west-1"
    assert "test-secret" not in yaml.safe_dump(server)
    secret = one(docs, "Secret")
    assert secret["stringData"]["aws-secret-access-key"] == "test-secret"
    assert server["spec"]["template"]["spec"]["volumes"][0] == {"name": "data", "emptyDir": {}}

    monitor = one(docs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    selected = [d for d in docs if d["kind"] == "Service" and all(
        d["metadata"]["labels"].get(k) == v
        for k, v in monitor["spec"]["selector"]["matchLabels"].items())]
    assert len(selected) == 3  # the server and both models

    churn = one(docs, "Deployment", "ml-slipway-model-churn")
    assert "replicas" not in churn["spec"]  # the autoscaler's to set
    args = flags(container(churn)["args"])
    assert args[:2] == ["serve", "models:/churn@production"]
    for flag, value in [("--max-batch-rows", "64"), ("--max-queue-delay-us", "2000"),
                        ("--max-queued", "100"), ("--tracking-uri", "http://ml-slipway:5000")]:
        assert args[args.index(flag) + 1] == value
    assert container(churn)["envFrom"] == [{"secretRef": {"name": "slipway-model-token"}}]
    hpa = one(docs, "HorizontalPodAutoscaler", "ml-slipway-model-churn")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    assert hpa["spec"]["metrics"][0]["pods"]["metric"]["name"] == "slipway_serving_queue_depth"
    fraud = one(docs, "HorizontalPodAutoscaler", "ml-slipway-model-fraud")
    assert fraud["spec"]["metrics"][0]["pods"] == {
        "metric": {"name": "slipway_serving_requests_per_second"},
        "target": {"type": "AverageValue", "averageValue": "250"}}
    ingress = one(docs, "Ingress")
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == \
        "ml-slipway"


@pytest.mark.parametrize("values, message", [
    (["--set", "server.replicas=2"], "server.replicas > 1 needs store.type=postgresql"),
    (["--set", "server.replicas=2", "--set", "store.type=postgresql", "--set",
      "secrets.existingSecret=s", "--set", "persistence.enabled=false"],
     "server.replicas > 1 needs artifacts.type=s3"),
    (["--set", "artifacts.type=s3"], "artifacts.type=s3 needs artifacts.s3.uri"),
    (["--set", "store.type=postgresql"], "store.type=postgresql needs the URI in a Secret"),
    # values.schema.json: types, names and choices.
    (["--set", "store.type=mysql"],
     "at '/store/type': value must be one of 'sqlite', 'postgresql'"),
    (["--set", "server.replicas=three"], "at '/server/replicas': got string, want integer"),
    (["--set", "models[0].name=m", "--set", "models[0].model=models:/m@a", "--set",
      "models[0].maxBatchrows=3"], "additional properties 'maxBatchrows' not allowed"),
    (["--set", "models[0].name=Bad_Name", "--set", "models[0].model=models:/m@a"],
     "models: name \"Bad_Name\""),
    (["--set", "models[0].name=m", "--set", "models[0].model=m@a"],
     "is not a models:/NAME@ALIAS"),
])
def test_helm_refuses_values_that_cannot_work(values, message):
    proc = helm("template", "ml", CHART, *values, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr


def test_plain_manifests_validate():
    files = sorted(MANIFESTS.glob("*.yaml"))
    assert {f.name for f in files} >= {"server.yaml", "secret.example.yaml", "ingress.yaml",
                                       "servicemonitor.yaml", "model-churn.yaml"}
    text = "".join("---\n" + f.read_text() for f in files)
    docs = documents(text)
    assert f"Valid: {len(docs)}, Invalid: 0, Errors: 0" in kubeconform(text).stdout


def test_deploy_target_kubernetes_writes_the_deployments_settings():
    # The server is not asked: --tracking-uri names a port nothing listens on.
    dead = f"http://127.0.0.1:{free_port()}"
    out = slipway(*CHURN_EXAMPLE, "--namespace", "ml", "--tracking-uri", dead).stdout
    docs = documents(out)
    assert [d["kind"] for d in docs] == ["Deployment", "Service", "HorizontalPodAutoscaler",
                                         "ServiceMonitor"]
    assert {d["metadata"]["name"] for d in docs} == {"churn"}
    assert {d["metadata"]["namespace"] for d in docs} == {"ml"}
    assert f"Valid: 4, Invalid: 0, Errors: 0" in kubeconform(out).stdout

    deployment = one(docs, "Deployment")
    assert "replicas" not in deployment["spec"]
    c = container(deployment)
    assert c["image"] == "slipway:0.1.0"
    assert c["args"] == ["serve", "models:/churn@production", "--host", "0.0.0.0", "--port",
                         "8080", "--tracking-uri", "http://slipway:5000", "--cache-dir",
                         "/var/cache/slipway", "--max-queued", "100", "--max-batch-rows", "64",
                         "--max-queue-delay-us", "2000"]
    assert c["resources"] == {"requests": {"cpu": "1", "memory": "512Mi"},
                              "limits": {"cpu": "2", "memory": "2Gi"}}
    assert c["envFrom"] == [{"secretRef": {"name": "slipway-model-token"}}]
    assert c["readinessProbe"]["httpGet"] == {"path": "/ping", "port": "http"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == "8080"  # a string
    assert deployment["metadata"]["annotations"]["slipway.dev/model-uri"] == \
        "models:/churn@production"
    hpa = one(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "churn"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    assert hpa["spec"]["metrics"][0]["pods"] == {
        "metric": {"name": "slipway_serving_queue_depth"},
        "target": {"type": "AverageValue", "averageValue": "8"}}
    service = one(docs, "Service")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    monitor = one(docs, "ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]


def test_deploy_target_kubernetes_defaults_and_rate_autoscaling():
    out = slipway("deploy", "create", "Fraud_Model.v2", "--model", "models:/fraud/3",
                  "--target", "kubernetes", "-o", "-").stdout
    docs = documents(out)
    assert [d["kind"] for d in docs] == ["Deployment", "Service"]  # no autoscaler
    deployment = one(docs, "Deployment", "fraud-model-v2")
    assert deployment["metadata"]["annotations"]["slipway.dev/deployment"] == "Fraud_Model.v2"
    assert deployment["spec"]["replicas"] == 1
    args = container(deployment)["args"]
    assert "--max-batch-rows" not in args  # batching off unless asked
    assert args[args.index("--max-queued") + 1] == "256"  # a deployment's default
    assert "namespace" not in deployment["metadata"]
    kubeconform(out)

    # Strings YAML would read as numbers or booleans are quoted.
    out = slipway("deploy", "create", "fraud", "--model", "models:/fraud@champion",
                  "--target", "kubernetes", "-o", "-", "--credentials-secret", "123",
                  "--image", "true", "--namespace", "1e3").stdout
    deployment = one(documents(out), "Deployment")
    assert deployment["metadata"]["namespace"] == "1e3"
    assert container(deployment)["envFrom"] == [{"secretRef": {"name": "123"}}]
    assert container(deployment)["image"] == "true"
    kubeconform(out)

    out = slipway("deploy", "create", "fraud", "--model", "models:/fraud@champion",
                  "--target", "kubernetes", "-o", "-", "--max-replicas", "5",
                  "--autoscale-metric", "rate", "--autoscale-target", "250.5").stdout
    hpa = one(documents(out), "HorizontalPodAutoscaler")
    assert hpa["spec"]["metrics"][0]["pods"] == {
        "metric": {"name": "slipway_serving_requests_per_second"},
        "target": {"type": "AverageValue", "averageValue": "250.5"}}
    kubeconform(out)


def test_deploy_target_kubernetes_writes_a_folder(tmp_path):
    folder = tmp_path / "manifests"
    args = [a for a in CHURN_EXAMPLE if a not in ("--output", "-")]
    proc = slipway(*args, "--output", folder)
    written = sorted(p.name for p in folder.iterdir())
    assert written == ["deployment-churn.yaml", "horizontalpodautoscaler-churn.yaml",
                       "service-churn.yaml", "servicemonitor-churn.yaml"]
    assert str(folder / "deployment-churn.yaml") in proc.stderr
    stdout_docs = documents(slipway(*CHURN_EXAMPLE).stdout)
    folder_docs = [yaml.safe_load((folder / f).read_text()) for f in
                   ["deployment-churn.yaml", "service-churn.yaml",
                    "horizontalpodautoscaler-churn.yaml", "servicemonitor-churn.yaml"]]
    assert folder_docs == stdout_docs


def test_the_committed_model_example_is_what_slipway_writes():
    expected = slipway(*CHURN_EXAMPLE).stdout
    committed = (MANIFESTS / "model-churn.yaml").read_text()
    body = committed[committed.index("---\n"):]  # after the header comment
    assert body == expected, ("deploy/kubernetes/model-churn.yaml is stale: regenerate it "
                              "with the command in its header")


def test_chart_models_run_what_the_cli_writes():
    """A model of the chart and the same settings through --target kubernetes
    run the same `slipway serve` with the same probes and resources."""
    rendered = helm("template", "ml", CHART, "-f", FULL_VALUES).stdout
    chart = container(one(documents(rendered), "Deployment", "ml-slipway-model-churn"))
    cli_out = slipway(*CHURN_EXAMPLE, "--cluster-tracking-uri", "http://ml-slipway:5000").stdout
    cli = container(one(documents(cli_out), "Deployment"))
    assert flags(chart["args"]) == flags(cli["args"])
    for key in ("startupProbe", "livenessProbe", "readinessProbe", "resources", "envFrom",
                "securityContext", "volumeMounts", "ports"):
        assert chart[key] == cli[key], key


@pytest.mark.parametrize("extra, message", [
    (["--cpu-request", "lots"], "--cpu-request: 'lots' is not a Kubernetes quantity"),
    (["--memory-limit", "1GB"], "--memory-limit: '1GB' is not a Kubernetes quantity"),
    (["--max-replicas", "1", "--replicas", "3"], "--max-replicas: 1 is fewer than --replicas 3"),
    (["--autoscale-metric", "cpu", "--max-replicas", "3"],
     "--autoscale-metric: 'cpu' is neither queue nor rate"),
    (["--namespace", "ML_Team"], "--namespace: 'ML_Team' is not a Kubernetes namespace name"),
    (["--cluster-tracking-uri", "slipway:5000"], "is not an http:// or https:// URL"),
    (["--log-sample-rate", "0.5"], "--log-sample-rate: `slipway serve` keeps no prediction log"),
    (["--replicas", "0"], "--replicas: must be at least 1"),
    (["--autoscale-target", "5"],
     "--autoscale-target: there is no autoscaler without --max-replicas above --replicas"),
    (["--autoscale-metric", "rate", "--replicas", "3", "--max-replicas", "3"],
     "--autoscale-metric: there is no autoscaler without --max-replicas above --replicas"),
])
def test_deploy_target_kubernetes_refuses_bad_settings(extra, message):
    proc = slipway("deploy", "create", "churn", "--model", "models:/churn@production",
                   "--target", "kubernetes", "-o", "-", *extra, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert proc.stdout == ""  # nothing half-written


def test_deploy_target_kubernetes_refuses_bad_names_and_references(tmp_path):
    proc = slipway("deploy", "create", "churn", "--model", "churn@production", "--target",
                   "kubernetes", "-o", "-", check=False)
    assert proc.returncode != 0 and "models:/" in proc.stderr
    long_name = "a" * 64  # a valid deployment name, one too long for Kubernetes
    proc = slipway("deploy", "create", long_name, "--model", "models:/m@a", "--target",
                   "kubernetes", "-o", "-", check=False)
    assert proc.returncode != 0
    assert f"deployment name '{long_name}' cannot be a Kubernetes name" in proc.stderr
    proc = slipway("deploy", "create", "churn", "--model", "models:/m@a", "--target",
                   "kubernetes", check=False)
    assert proc.returncode != 0 and "--output DIR, --output - (stdout) or --apply" in proc.stderr
    proc = slipway("deploy", "create", "churn", "--model", "models:/m@a", "--replicas", "3",
                   "--tracking-uri", f"http://127.0.0.1:{free_port()}", check=False)
    assert proc.returncode != 0 and "--replicas needs --target kubernetes" in proc.stderr


def test_apply_says_why_it_cannot_and_applies_nothing(tmp_path):
    args = ["deploy", "create", "churn", "--model", "models:/churn@production", "--target",
            "kubernetes", "--apply"]
    # kubectl with no context: an empty kubeconfig.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("")
    if any((Path(d) / "kubectl").exists() for d in os.environ.get("PATH", "").split(":")):
        proc = slipway(*args, check=False, env=dict(os.environ, KUBECONFIG=str(kubeconfig)))
        assert proc.returncode != 0
        assert "--apply: kubectl has no current context" in proc.stderr
        assert "nothing was applied" in proc.stderr
    # No kubectl at all.
    proc = slipway(*args, check=False, env=dict(os.environ, PATH=str(tmp_path)))
    assert proc.returncode != 0
    assert "--apply: cannot run kubectl" in proc.stderr


def test_the_secrets_postgresql_password_reaches_libpq_from_the_uri_or_pgpassword(postgres):
    """The chart passes the store's password as the Secret's store-uri (in the
    URI) or pg-password (PGPASSWORD); libpq takes either, and Slipway never
    prints it. A role of its own, with password authentication, on the run's
    PostgreSQL."""
    import uuid

    user = f"pw_{uuid.uuid4().hex[:8]}"
    password = f"pw-{uuid.uuid4().hex}"
    database = postgres.create_database("pw").rsplit("/", 1)[1]
    postgres.psql(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
    postgres.psql(f'ALTER DATABASE "{database}" OWNER TO {user}')
    hba = postgres.data_dir / "pg_hba.conf"
    hba.write_text(f"host all {user} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
    postgres.psql("SELECT pg_reload_conf()")
    base = f"127.0.0.1:{postgres.port}/{database}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGPASSFILE"] = "/nonexistent"  # no ~/.pgpass either

    proc = slipway("db", "upgrade", "--store", f"postgresql://{user}@{base}", check=False, env=env)
    assert proc.returncode != 0
    assert "no password supplied" in proc.stderr, proc.stderr

    proc = slipway("db", "upgrade", "--store", f"postgresql://{user}@{base}",
                   env=dict(env, PGPASSWORD=password))
    assert "schema upgraded" in proc.stdout

    proc = slipway("db", "upgrade", "--store", f"postgresql://{user}:{password}@{base}", env=env)
    assert "up to date" in proc.stdout
    assert password not in proc.stdout + proc.stderr

    proc = slipway("db", "upgrade", "--store", f"postgresql://{user}:wrong-{password}@{base}",
                   check=False, env=env)
    assert proc.returncode != 0 and "password authentication failed" in proc.stderr
    assert password not in proc.stdout + proc.stderr
