"""Lineage and model cards of registered model versions, through the REST API.

A nested training run logs params, a metric, a pandas dataset input and an
XGBoost model registered as a new version; the lineage endpoint must lead
from that version back to the run, its data, its code version and the runs
around it, and the model card must say the same in Markdown and JSON.
"""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
import xgboost as xgb
from mlflow import MlflowClient

from conftest import unique

pytestmark = pytest.mark.slipway_only


@pytest.fixture(scope="module")
def trained(server):
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(server.url)
    mlflow.set_registry_uri(server.url)
    experiment = unique("lineage")
    mlflow.set_experiment(experiment)
    model_name = unique("churn")
    rng = np.random.default_rng(7)
    X = rng.random((60, 4))
    y = (X[:, 0] > 0.5).astype(int)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    with mlflow.start_run(run_name="sweep") as parent:
        with mlflow.start_run(run_name="train", nested=True) as run:
            mlflow.set_tag("mlflow.source.git.commit", "0123abcd")
            mlflow.log_params({"max_depth": 3, "eta": 0.25})
            mlflow.log_input(mlflow.data.from_pandas(frame, name="customers@2"),
                             context="training")
            booster = xgb.train({"objective": "binary:logistic", "max_depth": 3},
                                xgb.DMatrix(X, label=y), 4)
            mlflow.log_metric("auc", 0.875)
            info = mlflow.xgboost.log_model(booster, name="model",
                                            registered_model_name=model_name)
            with mlflow.start_run(run_name="evaluate", nested=True) as child:
                pass
    client = MlflowClient(tracking_uri=server.url, registry_uri=server.url)
    client.update_model_version(model_name, "1", "Scores churn risk | for retention offers.")
    client.set_model_version_tag(model_name, "1", "validation.auc_gate", "passed")
    client.set_model_version_tag(model_name, "1", "approval.alice", "approved")
    return {"name": model_name, "run": run.info.run_id, "parent": parent.info.run_id,
            "child": child.info.run_id, "model_id": info.model_id}


def test_lineage_leads_back_to_run_data_code_and_related_runs(server, trained):
    r = requests.get(f"{server.url}/api/v1/lineage/model-versions/{trained['name']}/1",
                     timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_version"]["name"] == trained["name"]
    assert body["model_version"]["version"] == "1"
    assert body["logged_model"]["info"]["model_id"] == trained["model_id"]
    run = body["run"]
    assert run["info"]["run_id"] == trained["run"]
    params = {p["key"]: p["value"] for p in run["data"]["params"]}
    assert params == {"max_depth": "3", "eta": "0.25"}
    assert {m["key"]: m["value"] for m in run["data"]["metrics"]} == {"auc": 0.875}
    assert body["code"]["git_commit"] == "0123abcd"
    assert [d["name"] for d in body["datasets"]] == ["customers@2"]
    assert body["datasets"][0]["context"] == "training"
    assert len(body["datasets"][0]["digest"]) > 0
    assert body["parent_run"]["run_id"] == trained["parent"]
    assert [c["run_id"] for c in body["child_runs"]] == [trained["child"]]


def test_model_card_markdown_and_json_say_the_same(server, trained):
    base = f"{server.url}/api/v1/models/{trained['name']}/versions/1/card"
    md = requests.get(base, timeout=10)
    assert md.status_code == 200, md.text
    assert md.headers["Content-Type"].startswith("text/markdown")
    text = md.text
    assert text.startswith(f"# Model card: {trained['name']} version 1\n")
    assert "Scores churn risk | for retention offers." in text
    assert "| customers@2 |" in text and "| training |" in text
    assert "| max_depth | 3 |" in text and "| eta | 0.25 |" in text
    assert "| auc | 0.875 |" in text
    assert "- auc_gate: passed" in text
    assert "- alice: approved" in text
    assert f"Training run: `{trained['run']}`" in text
    assert "Code version: `0123abcd`" in text

    card = requests.get(base, params={"format": "json"}, timeout=10).json()
    assert card["intended_use"] == "Scores churn risk | for retention offers."
    assert card["parameters"] == {"max_depth": "3", "eta": "0.25"}
    assert card["metrics"] == {"auc": 0.875}
    assert card["validation"] == {"auc_gate": "passed"}
    assert card["approvals"] == {"alice": "approved"}
    assert card["lineage"]["run_id"] == trained["run"]
    assert card["lineage"]["model_id"] == trained["model_id"]
    assert [d["name"] for d in card["training_data"]] == ["customers@2"]
    assert requests.get(base, headers={"Accept": "application/json"},
                        timeout=10).json() == card


@pytest.mark.parametrize("path, status, code", [
    ("lineage/model-versions/no-such-model/1", 404, "RESOURCE_DOES_NOT_EXIST"),
    ("models/no-such-model/versions/1/card", 404, "RESOURCE_DOES_NOT_EXIST"),
])
def test_unknown_models_are_404(server, path, status, code):
    r = requests.get(f"{server.url}/api/v1/{path}", timeout=10)
    assert r.status_code == status, r.text
    assert r.json()["error_code"] == code


def test_version_that_is_not_a_number_is_rejected(server, trained):
    r = requests.get(f"{server.url}/api/v1/lineage/model-versions/{trained['name']}/one",
                     timeout=10)
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "must be an integer" in r.json()["message"]
