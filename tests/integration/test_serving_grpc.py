"""The Open Inference Protocol v2 over gRPC, driven by the real `tritonclient.grpc`.

`slipway server --grpc-port P` serves every deployment, `slipway serve FOLDER --grpc-port P`
its one model; both are checked against the model's own predictions. With --auth, gRPC calls
authenticate and are authorized like HTTP requests (Basic or Bearer in the `authorization`
metadata, USE on the deployment).
"""

from __future__ import annotations

import base64
import signal
import subprocess

import numpy as np
import pytest
import requests
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from conftest import SlipwayServer, free_port, slipway_binary, unique
from test_serving import FEATURES, create, log_xgboost, serving_version, training_data, wait_for

pytestmark = pytest.mark.slipway_only

ADMIN = ("admin", "admin-Pa55word!")
BOB = ("bob", "bob-Pa55word!")


def _grpc_server(tmp_path_factory, name: str, *extra: str, env=None) -> SlipwayServer:
    port = free_port()
    srv = SlipwayServer(binary=slipway_binary(), data_dir=tmp_path_factory.mktemp(name),
                        extra_args=["--grpc-port", str(port), *extra], env=env or {})
    srv.grpc_port = port
    return srv.start()


@pytest.fixture(scope="module")
def grpc_server(tmp_path_factory):
    srv = _grpc_server(tmp_path_factory, "slipway-grpc")
    yield srv
    srv.assert_clean_exit()


@pytest.fixture
def grpc_mlflow(grpc_server, monkeypatch):
    from conftest import _point_mlflow_at
    import mlflow

    client = _point_mlflow_at(grpc_server, monkeypatch)
    yield client
    while mlflow.active_run() is not None:
        mlflow.end_run()


def _infer(client, name: str, x: np.ndarray, datatype: str, output: str | None = "predictions",
           **kw):
    tensor = grpcclient.InferInput("input__0", list(x.shape), datatype)
    tensor.set_data_from_numpy(x)
    outputs = [grpcclient.InferRequestedOutput(output)] if output else None
    return client.infer(name, [tensor], outputs=outputs, **kw)


def _check_model(client, name: str, model, version: str) -> None:
    """Health, metadata and FP32/FP64 inference of `name`, against `model`'s own predictions."""
    assert client.is_server_live() and client.is_server_ready()
    assert client.get_server_metadata().name == "slipway"
    assert client.is_model_ready(name)
    assert client.is_model_ready(name, version)
    assert not client.is_model_ready(name, "999")
    metadata = client.get_model_metadata(name)
    assert metadata.name == name and version in metadata.versions
    assert [i.name for i in metadata.inputs] == FEATURES
    assert metadata.platform == "xgboost_native"
    x, _ = training_data(seed=31, rows=17)
    for dtype, datatype in ((np.float32, "FP32"), (np.float64, "FP64")):
        rows = x.to_numpy(dtype=dtype)
        result = _infer(client, name, rows, datatype)
        got = result.as_numpy("predictions")
        assert got.shape == (17,) and got.dtype == np.float64
        np.testing.assert_allclose(got, model.predict(x.astype(np.float32)), rtol=0, atol=1e-5)
        assert result.get_response().model_version == version
    # No requested outputs: the default one, by the name the metadata advertises.
    result = _infer(client, name, x.to_numpy(dtype=np.float32), "FP32", output=None)
    assert [o.name for o in result.get_response().outputs] == ["predictions"]
    # The typed `contents` form (no raw_input_contents), as other v2 clients send it.
    from tritonclient.grpc import service_pb2

    request = service_pb2.ModelInferRequest(model_name=name, id="typed-1")
    tensor = request.inputs.add(name="input__0", datatype="FP64", shape=[2, len(FEATURES)])
    tensor.contents.fp64_contents.extend(x.head(2).to_numpy().reshape(-1).tolist())
    reply = client._client_stub.ModelInfer(request, timeout=30)
    assert reply.id == "typed-1" and reply.outputs[0].datatype == "FP64"
    np.testing.assert_allclose(np.frombuffer(reply.raw_output_contents[0], dtype="<f8"),
                               model.predict(x.head(2).astype(np.float32)), rtol=0, atol=1e-5)


def _check_refusals(client, name: str) -> None:
    x = np.zeros((2, len(FEATURES)), dtype=np.float32)
    with pytest.raises(InferenceServerException) as unknown:
        _infer(client, unique("no-such-model"), x, "FP32")
    assert unknown.value.status() == "StatusCode.NOT_FOUND", unknown.value
    with pytest.raises(InferenceServerException):
        client.get_model_metadata(unique("no-such-model"))
    with pytest.raises(InferenceServerException) as wrong_width:
        _infer(client, name, np.zeros((2, 3), dtype=np.float32), "FP32")
    assert wrong_width.value.status() == "StatusCode.INVALID_ARGUMENT", wrong_width.value
    with pytest.raises(InferenceServerException) as bad_output:
        client.infer(name, [_tensor(x)], outputs=[grpcclient.InferRequestedOutput("a"),
                                                  grpcclient.InferRequestedOutput("b")])
    assert bad_output.value.status() == "StatusCode.INVALID_ARGUMENT", bad_output.value
    with pytest.raises(InferenceServerException) as unloaded:
        _infer(client, name, x, "FP32", model_version="999")
    assert unloaded.value.status() == "StatusCode.NOT_FOUND", unloaded.value


def _tensor(x: np.ndarray):
    tensor = grpcclient.InferInput("input__0", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x)
    return tensor


def test_tritonclient_grpc_infers_on_a_deployment(grpc_server, grpc_mlflow):
    model_name = unique("grpc")
    model, v1 = log_xgboost(model_name, depth=3, seed=41)
    name = unique("dep")
    create(grpc_server, name, f"models:/{model_name}/{v1}")
    wait_for(lambda: serving_version(grpc_server, name) == v1, what="v1")
    client = grpcclient.InferenceServerClient(f"127.0.0.1:{grpc_server.grpc_port}")
    _check_model(client, name, model, v1)
    _check_refusals(client, name)
    # The HTTP side still answers beside it, with the same predictions.
    x, _ = training_data(seed=31, rows=3)
    body = {"inputs": [{"name": "input__0", "shape": [3, len(FEATURES)], "datatype": "FP64",
                        "data": x.to_numpy().reshape(-1).tolist()}]}
    r = requests.post(f"{grpc_server.url}/v2/models/{name}/infer", json=body, timeout=30)
    assert r.status_code == 200, r.text
    grpc_answer = _infer(client, name, x.to_numpy(), "FP64").as_numpy("predictions")
    np.testing.assert_allclose(r.json()["outputs"][0]["data"], grpc_answer, rtol=0, atol=1e-12)


def test_a_message_over_the_receive_limit_is_refused(grpc_server, grpc_mlflow):
    client = grpcclient.InferenceServerClient(f"127.0.0.1:{grpc_server.grpc_port}")
    huge = np.zeros((600_000, len(FEATURES)), dtype=np.float32)  # ~19 MB > 16 MiB
    with pytest.raises(InferenceServerException) as refused:
        _infer(client, "anything", huge, "FP32")
    assert refused.value.status() == "StatusCode.RESOURCE_EXHAUSTED", refused.value
    assert client.is_server_live()


def test_slipway_serve_a_folder_over_grpc(tmp_path, grpc_server, grpc_mlflow):
    import mlflow.xgboost
    from mlflow.models import infer_signature

    model_name = unique("standalone-grpc")
    model, _ = log_xgboost(model_name, depth=2, seed=43)
    folder = tmp_path / "model"
    x, _ = training_data(seed=43)
    mlflow.xgboost.save_model(model, str(folder), signature=infer_signature(x, model.predict(x)))
    port, grpc_port = free_port(), free_port()
    proc = subprocess.Popen(
        [str(slipway_binary()), "serve", str(folder), "--port", str(port),
         "--grpc-port", str(grpc_port), "--grpc-threads", "4"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        client = grpcclient.InferenceServerClient(f"127.0.0.1:{grpc_port}")

        def live():
            try:
                return client.is_server_live()
            except InferenceServerException:
                return False

        wait_for(live, what="slipway serve's gRPC port")
        # A folder is served under its own name, as version 1.
        _check_model(client, "model", model, "1")
        _check_refusals(client, "model")

        # A flood of concurrent calls on 48 connections: each is answered
        # right or refused with RESOURCE_EXHAUSTED, and the server lives on.
        import concurrent.futures

        def call(i: int) -> str:
            own = grpcclient.InferenceServerClient(f"127.0.0.1:{grpc_port}")
            rows = x.to_numpy(dtype=np.float32)[i % 10:i % 10 + 5]
            try:
                for _ in range(20):
                    got = _infer(own, "model", rows, "FP32").as_numpy("predictions")
                    np.testing.assert_allclose(got, model.predict(rows), rtol=0, atol=1e-5)
                return "ok"
            except InferenceServerException as e:
                assert "RESOURCE_EXHAUSTED" in str(e.status()) or "exhausted" in str(e).lower(), e
                return "refused"

        with concurrent.futures.ThreadPoolExecutor(48) as pool:
            outcomes = list(pool.map(call, range(48)))
        assert "ok" in outcomes, outcomes
        assert proc.poll() is None
        _check_model(client, "model", model, "1")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out


def test_grpc_calls_authenticate_and_need_use_with_auth(tmp_path_factory, monkeypatch):
    srv = _grpc_server(tmp_path_factory, "slipway-grpc-auth", "--auth",
                       env={"SLIPWAY_ADMIN_PASSWORD": ADMIN[1]})
    try:
        r = requests.post(f"{srv.api}/users/create",
                          json={"username": BOB[0], "password": BOB[1]}, auth=ADMIN, timeout=30)
        assert r.status_code == 200, r.text
        from conftest import _point_mlflow_at

        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN[0])
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN[1])
        _point_mlflow_at(srv, monkeypatch)
        model_name = unique("grpc-auth")
        model, v1 = log_xgboost(model_name, depth=2, seed=47)
        name = unique("dep")
        r = requests.post(f"{srv.url}/api/v1/deployments", auth=ADMIN, timeout=30,
                          json={"name": name, "model_uri": f"models:/{model_name}/{v1}"})
        assert r.status_code == 200, r.text

        def ready():
            r = requests.get(f"{srv.url}/api/v1/deployments/{name}", auth=ADMIN, timeout=30)
            return any(v["state"] == "ready" for v in r.json()["deployment"]["versions"])

        wait_for(ready, what="the deployment to load")
        client = grpcclient.InferenceServerClient(f"127.0.0.1:{srv.grpc_port}")
        x = training_data(seed=48, rows=4)[0]
        rows = x.to_numpy(dtype=np.float32)

        def basic(user):
            return {"authorization": "Basic " + base64.b64encode(":".join(user).encode()).decode()}

        for headers in (None, basic((BOB[0], "wrong")), {"authorization": "Bearer slw_nonsense"}):
            for call in (lambda: client.is_server_live(headers=headers),
                         lambda: _infer(client, name, rows, "FP32", headers=headers)):
                with pytest.raises(InferenceServerException) as refused:
                    call()
                assert refused.value.status() == "StatusCode.UNAUTHENTICATED", refused.value
        # Bob signs in, but holds only the default READ: inference needs USE.
        assert client.is_server_live(headers=basic(BOB))
        for call in (lambda: _infer(client, name, rows, "FP32", headers=basic(BOB)),
                     lambda: client.get_model_metadata(name, headers=basic(BOB))):
            with pytest.raises(InferenceServerException) as denied:
                call()
            assert denied.value.status() == "StatusCode.PERMISSION_DENIED", denied.value
        # Refusals are in the audit trail, as HTTP's are.
        r = requests.get(f"{srv.url}/api/v1/audit", auth=ADMIN, timeout=30,
                         params={"action": "oip/infer", "max_results": 1000})
        assert r.status_code == 200, r.text
        seen = {(e["principal"], e["outcome"], e["target"]) for e in r.json()["entries"]}
        assert ("bob", 403, f"deployment:{name}") in seen, seen
        assert any(outcome == 401 and target == "user:bob" for _, outcome, target in seen), seen
        got = _infer(client, name, rows, "FP32", headers=basic(ADMIN)).as_numpy("predictions")
        np.testing.assert_allclose(got, model.predict(x.astype(np.float32)), rtol=0, atol=1e-5)
        grant = requests.post(f"{srv.url}/api/3.0/mlflow/users/permissions/grant", auth=ADMIN,
                              json={"username": BOB[0], "resource_type": "deployment",
                                    "resource_id": name, "permission": "USE"}, timeout=30)
        assert grant.status_code == 200, grant.text
        token = requests.post(f"{srv.url}/api/v1/tokens", json={"name": "grpc"}, auth=BOB,
                              timeout=30)
        assert token.status_code == 200, token.text
        bearer = {"authorization": "Bearer " + token.json()["token"]}
        got = _infer(client, name, rows, "FP32", headers=bearer).as_numpy("predictions")
        np.testing.assert_allclose(got, model.predict(x.astype(np.float32)), rtol=0, atol=1e-5)
    finally:
        srv.stop()
    srv.assert_clean_exit()
