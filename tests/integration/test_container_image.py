"""The container image: the Dockerfile's image, built from this build's
binary, runs the tracking server and `slipway serve` as the Helm chart runs
them (user 65532, a read-only root file system, writable folders mounted).

Needs a Docker daemon that answers `docker info` (DOCKER_HOST for one
elsewhere); skipped, saying so, when none does: `make test` starts none. The
containers use the host's network and listen on loopback ports only.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid

import pytest
import requests

from conftest import REPO_ROOT, free_port, slipway_binary


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    except subprocess.TimeoutExpired:
        return False


pytestmark = pytest.mark.skipif(not _docker_answers(),
                                reason="no Docker daemon answers `docker info`")


def docker(*args, check=True, timeout=600) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(f"docker {' '.join(map(str, args))} exited {proc.returncode}\n"
                    f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    """The image of the Dockerfile, from a context holding only the root file
    system make_rootfs.sh assembled from this build's binary."""
    context = tmp_path_factory.mktemp("image-context")
    shutil.copy(REPO_ROOT / "Dockerfile", context / "Dockerfile")
    subprocess.run([REPO_ROOT / "deploy" / "docker" / "make_rootfs.sh", slipway_binary(),
                    context / "build" / "image"], check=True, capture_output=True)
    tag = f"slipway-test:{uuid.uuid4().hex[:12]}"
    docker("build", "-q", "-t", tag, context)
    yield tag
    docker("rmi", "-f", tag, check=False)


class Container:
    """One detached container on the host's network."""

    def __init__(self, image: str, *args: str, mounts: tuple[str, ...] = ()):
        run = ["run", "-d", "--network", "host", "--read-only", "--tmpfs", "/tmp"]
        for folder in mounts:
            run += ["--tmpfs", f"{folder}:uid=65532,gid=65532"]
        self.id = docker(*run, image, *args).stdout.strip()

    def logs(self) -> str:
        proc = docker("logs", self.id, check=False)
        return (proc.stdout + proc.stderr)[-4000:]

    def wait_healthy(self, url: str, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(url + "/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            state = json.loads(docker("inspect", self.id).stdout)[0]["State"]
            if not state["Running"]:
                pytest.fail(f"container exited {state['ExitCode']}\n{self.logs()}")
            time.sleep(0.2)
        pytest.fail(f"{url}/health did not answer within {timeout}s\n{self.logs()}")

    def stop(self) -> int:
        """SIGTERM, then the exit code (the server finishes and exits 0)."""
        docker("stop", "-t", "20", self.id)
        code = int(docker("wait", self.id).stdout.strip())
        docker("rm", "-f", self.id, check=False)
        return code


def test_the_image_holds_only_the_binary_and_what_it_loads(image):
    config = json.loads(docker("image", "inspect", image).stdout)[0]["Config"]
    assert config["User"] == "65532:65532"
    assert config["Entrypoint"] == ["/usr/local/bin/slipway"]
    proc = docker("run", "--rm", "--network", "none", image, "--help")
    assert "server" in proc.stdout and "serve" in proc.stdout


def test_the_images_server_answers_health_and_mlflow_and_serves_a_model(image, monkeypatch):
    import mlflow
    import numpy as np
    import pandas as pd
    import xgboost as xgb
    from mlflow.models import infer_signature

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = Container(image, "server", "--host", "127.0.0.1", "--port", str(port),
                       "--data-dir", "/var/lib/slipway", mounts=("/var/lib/slipway",))
    try:
        server.wait_healthy(url)
        assert requests.get(url + "/health", timeout=5).text == "OK"

        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        monkeypatch.setenv("MLFLOW_REGISTRY_URI", url)
        mlflow.set_tracking_uri(url)
        mlflow.set_registry_uri(url)
        mlflow.set_experiment(f"image-{uuid.uuid4().hex[:8]}")
        rng = np.random.default_rng(0)
        x = pd.DataFrame(rng.normal(size=(200, 4)), columns=["a", "b", "c", "d"])
        y = x["a"] * 2 - x["b"]
        model = xgb.XGBRegressor(n_estimators=10, max_depth=3).fit(x, y)
        name = f"image-model-{uuid.uuid4().hex[:8]}"
        with mlflow.start_run() as run:
            mlflow.log_metric("rmse", 0.5)
            mlflow.xgboost.log_model(model, name="model", registered_model_name=name,
                                     signature=infer_signature(x, model.predict(x)),
                                     input_example=x.head(2))
        assert mlflow.get_run(run.info.run_id).data.metrics["rmse"] == 0.5
        mlflow.MlflowClient().set_registered_model_alias(name, "production", "1")

        # `slipway serve` of the registered model, from the same image.
        serve_port = free_port()
        serve_url = f"http://127.0.0.1:{serve_port}"
        serve = Container(image, "serve", f"models:/{name}@production", "--host", "127.0.0.1",
                          "--port", str(serve_port), "--tracking-uri", url, "--cache-dir",
                          "/var/cache/slipway", "--max-batch-rows", "16",
                          mounts=("/var/cache/slipway",))
        try:
            serve.wait_healthy(serve_url)
            assert requests.get(serve_url + "/ping", timeout=5).status_code == 200
            rows = x.head(5)
            reply = requests.post(serve_url + "/invocations", timeout=10, json={
                "dataframe_split": json.loads(rows.to_json(orient="split", index=False))})
            assert reply.status_code == 200, reply.text
            np.testing.assert_allclose(reply.json()["predictions"], model.predict(rows),
                                       rtol=1e-5)
            # The metrics the autoscaler of docs/kubernetes.md reads.
            metrics = requests.get(serve_url + "/metrics", timeout=5).text
            assert "slipway_serving_queue_depth{" in metrics
            assert 'slipway_serving_requests_total{' in metrics
            assert 'status="ok"} 1' in metrics
        finally:
            assert serve.stop() == 0, serve.logs()
    finally:
        assert server.stop() == 0, server.logs()
