"""MLflow 3's prompt registry (`mlflow.genai.register_prompt`, `load_prompt`, aliases,
search) through the real `mlflow` client, and the server's rules for prompt versions.

MLflow builds prompts on the model registry: a prompt is a registered model tagged
`mlflow.prompt.is_prompt=true`, each version holds its template in a tag, and its
`source` is a placeholder (`dummy-source` from the client, `prompt-template` from
stores), which `mlflow server` 3.17 requires (mlflow/server/handlers.py,
`_validate_prompt_source`). Run with SLIPWAY_ITEST_REFERENCE=mlflow to check these
expectations against MLflow's own server.
"""

from __future__ import annotations

import mlflow
import pytest
import requests

from conftest import assert_mlflow_error, unique


def test_register_load_alias_and_search_prompts(mlflow_client):
    name = unique("summarize")
    v1 = mlflow.genai.register_prompt(name=name, template="Summarize: {{text}}",
                                      commit_message="first", tags={"team": "search"})
    assert v1.version == 1
    v2 = mlflow.genai.register_prompt(name=name, template="Summarize in {{n}} words: {{text}}")
    assert v2.version == 2

    first = mlflow.genai.load_prompt(f"prompts:/{name}/1")
    assert first.template == "Summarize: {{text}}"
    assert first.format(text="the report") == "Summarize: the report"
    assert first.commit_message == "first"
    assert mlflow.genai.load_prompt(f"prompts:/{name}@latest").version == 2

    mlflow.genai.set_prompt_alias(name, alias="production", version=1)
    production = mlflow.genai.load_prompt(f"prompts:/{name}@production")
    assert production.version == 1
    mlflow.genai.set_prompt_alias(name, alias="production", version=2)
    production = mlflow.genai.load_prompt(f"prompts:/{name}@production")
    assert production.version == 2
    assert production.format(n=5, text="x") == "Summarize in 5 words: x"

    found = mlflow.genai.search_prompts(filter_string=f"name = '{name}'")
    assert [p.name for p in found] == [name]
    assert found[0].tags.get("team") == "search"


def test_prompts_are_not_models_and_models_are_not_prompts(mlflow_client):
    prompt = unique("prompt")
    model = unique("model")
    mlflow.genai.register_prompt(name=prompt, template="Hello {{who}}")
    mlflow_client.create_registered_model(model)
    models = [m.name for m in mlflow.search_registered_models(filter_string=f"name = '{prompt}'")]
    assert models == []
    prompts = [p.name for p in mlflow.genai.search_prompts(filter_string=f"name = '{model}'")]
    assert prompts == []
    with pytest.raises(Exception):
        mlflow.genai.load_prompt(f"prompts:/{model}/1")


def _create_version(server, name: str, source: str, tags: list[dict]) -> requests.Response:
    return requests.post(f"{server.api}/model-versions/create",
                         json={"name": name, "source": source, "tags": tags})


def test_a_prompt_version_must_use_a_placeholder_source(server, mlflow_client):
    name = unique("strict")
    r = requests.post(f"{server.api}/registered-models/create",
                      json={"name": name, "tags": [{"key": "mlflow.prompt.is_prompt",
                                                    "value": "true"}]})
    assert r.status_code == 200, r.text
    prompt_tags = [{"key": "mlflow.prompt.is_prompt", "value": "true"},
                   {"key": "mlflow.prompt.text", "value": "Hi {{x}}"}]
    for source in ("dummy-source", "prompt-template"):
        r = _create_version(server, name, source, prompt_tags)
        assert r.status_code == 200, r.text
        assert r.json()["model_version"]["source"] == source
    # Anything else is refused, whatever it points at: a prompt reads nothing.
    for source in ("s3://bucket/prompt", "runs:/0123456789abcdef/x", "/etc/passwd", ""):
        r = _create_version(server, name, source, prompt_tags)
        if source == "":
            assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE")
        else:
            assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE",
                                f"Invalid prompt source: '{source}'")
    # The tag is read as MLflow reads it: the last value of the key, in any case.
    r = _create_version(server, name, "dummy-source",
                        [{"key": "mlflow.prompt.is_prompt", "value": "false"},
                         {"key": "mlflow.prompt.is_prompt", "value": "TRUE"}])
    assert r.status_code == 200, r.text
    # Not a prompt version (the last value says false): the placeholder is no
    # model source.
    r = _create_version(server, name, "dummy-source",
                        [{"key": "mlflow.prompt.is_prompt", "value": "true"},
                         {"key": "mlflow.prompt.is_prompt", "value": "false"}])
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE", "Invalid model version source")


def test_a_prompt_version_is_no_model_version_source(server, mlflow_client):
    prompt = unique("tmpl")
    mlflow.genai.register_prompt(name=prompt, template="Q: {{q}}")
    model = unique("from-prompt")
    mlflow_client.create_registered_model(model)
    r = _create_version(server, model, f"models:/{prompt}/1", [])
    assert_mlflow_error(r, 400, "INVALID_PARAMETER_VALUE",
                        "Prompt versions cannot be used as model version sources")
