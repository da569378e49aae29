"""Reproducible training and the model card (issue 14).

With the same spec, data version and seed, `slipway train` makes the same
model files byte for byte; the run records what it was made from (spec and
data digests, --set overrides, git commit, Slipway and library versions);
`slipway train --reproduce RUN_ID` trains again from that record and
compares the files' digests, exiting 1 on a mismatch. A passed run that
registers its model writes the model card into the version's description
and the run's model_card.md.

Real `slipway train` and `slipway server` processes, the real mlflow client.
"""
from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from mlflow.tracking import MlflowClient

from test_data import data_json, slipway
from test_serve_trained import SHOP_SPEC
from test_train import TRAIN_SPEC, _artifact, _run_id, cancer_frame

pytestmark = pytest.mark.slipway_only

# Row and column sampling: XGBoost's random draws must come from the seed.
SAMPLED_SPEC = TRAIN_SPEC.replace("eta: 0.2}", "eta: 0.2, subsample: 0.7, colsample_bytree: 0.6}")
LOGISTIC_SPEC = TRAIN_SPEC.replace(
    "type: xgboost\n  params: {num_boost_round: 40, max_depth: 3, eta: 0.2}",
    "type: logistic\n  params: {l2: 1.0}").replace("cv:", "preprocessing: {scale: standard}\ncv:")
RANDOM_SEARCH_SPEC = SAMPLED_SPEC.replace("cv: {scheme: stratified, folds: 5}", """\
search:
  algorithm: random
  trials: 4
  space:
    max_depth: {int: [2, 5]}
    eta: {log_uniform: [0.05, 0.3]}
cv: {scheme: stratified, folds: 3}""").replace("max_depth: 3, eta: 0.2, ", "")


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    ws = tmp_path_factory.mktemp("reproduce-ws")
    cancer_frame().to_csv(ws / "cancer.csv", index=False)
    slipway("data", "add", "cancer.csv", "--name", "cancer", cwd=ws)
    from test_serve_trained import _shop
    _shop().to_csv(ws / "shop.csv", index=False)
    slipway("data", "add", "shop.csv", "--name", "shop", cwd=ws)
    return ws


def _train(ws: Path, server, spec: str, *args: str, name: str = "spec.yaml"):
    (ws / name).parent.mkdir(parents=True, exist_ok=True)
    (ws / name).write_text(spec)
    return slipway("train", name, "--tracking-uri", server.url, "--experiment", "reproduce",
                   *args, cwd=ws, check=False)


def _reproduce(ws: Path, server, run_id: str):
    return slipway("train", "--reproduce", run_id, "--tracking-uri", server.url, cwd=ws,
                   check=False)


def _data_digest(ws: Path, dataset: str) -> str:
    return data_json("show", dataset, cwd=ws)["content_digest"]


@pytest.mark.parametrize("spec, files", [
    (SAMPLED_SPEC, ["code/slipway_pyfunc.py", "model.ubj", "preprocessing.json"]),
    (LOGISTIC_SPEC, ["code/slipway_pyfunc.py", "model.json", "preprocessing.json"]),
    (SHOP_SPEC, ["code/slipway_pyfunc.py", "model.ubj", "preprocessing.json"]),
], ids=["xgboost_sampled", "logistic_scaled", "xgboost_native_categories"])
def test_the_same_spec_data_and_seed_make_the_same_files_and_reproduce_says_so(
        workspace, server, spec, files):
    first = _train(workspace, server, spec)
    assert first.returncode == 0, first.stderr
    second = _train(workspace, server, spec)
    assert second.returncode == 0, second.stderr
    a, b = _run_id(first.stdout), _run_id(second.stdout)
    for f in files:
        assert _artifact(server, a, f"model/{f}") == _artifact(server, b, f"model/{f}"), f

    out = _reproduce(workspace, server, a)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"reproduce run {a}: spec.yaml on " in out.stdout
    for f in files:
        digest = hashlib.sha256(_artifact(server, a, f"model/{f}")).hexdigest()
        assert re.search(rf"^  {re.escape(f)}\s+match$", out.stdout, re.M), out.stdout
        assert f"recorded   {digest}\n    reproduced {digest}" in out.stdout
    assert f"reproduce MATCH: {len(files)} of {len(files)} files identical" in out.stdout
    # Reproducing makes no run.
    runs = MlflowClient(server.url).search_runs(
        [MlflowClient(server.url).get_run(a).info.experiment_id])
    assert a in {r.info.run_id for r in runs} and len([r for r in runs if r.info.run_id in (a, b)]) == 2


def test_the_run_records_what_it_was_made_from(workspace, server):
    out = _train(workspace, server, SAMPLED_SPEC, "--set", "model.params.max_depth=2")
    assert out.returncode == 0, out.stderr
    run_id = _run_id(out.stdout)
    tags = MlflowClient(server.url).get_run(run_id).data.tags
    assert tags["slipway.spec.sha256"] == hashlib.sha256(
        (workspace / "spec.yaml").read_bytes()).hexdigest()
    assert tags["slipway.spec.overrides"] == '["model.params.max_depth=2"]'
    assert tags["slipway.dataset"] == "cancer@1"
    assert tags["slipway.dataset.sha256"] == _data_digest(workspace, "cancer@1")
    version = slipway("--version", cwd=workspace).stdout.split()[-1]
    assert tags["slipway.version"] == version
    mlmodel = _artifact(server, run_id, "model/MLmodel").decode()
    xgb_version = re.search(r"xgb_version: (\S+)", mlmodel).group(1)
    assert tags["slipway.library.xgboost"] == xgb_version
    eigen = Path("/usr/include/eigen3/Eigen/src/Core/util/Macros.h").read_text()
    world, major, minor = (re.search(rf"#define EIGEN_{k}_VERSION (\d+)", eigen).group(1)
                           for k in ("WORLD", "MAJOR", "MINOR"))
    assert tags["slipway.library.eigen"] == f"{world}.{major}.{minor}"
    # The workspace is no git working tree: no commit is claimed.
    assert "slipway.git.commit" not in tags and "mlflow.source.git.commit" not in tags
    # The digests of the model's files, as tags.
    for f in ("model.ubj", "preprocessing.json", "code/slipway_pyfunc.py"):
        assert tags[f"slipway.model.sha256.{f}"] == hashlib.sha256(
            _artifact(server, run_id, f"model/{f}")).hexdigest()

    # The override is part of the record: the reproduction applies it.
    again = _reproduce(workspace, server, run_id)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "reproduce MATCH" in again.stdout


def test_the_git_commit_of_the_specs_working_tree_and_of_a_linked_worktree(workspace, server,
                                                                        tmp_path):
    if shutil.which("git") is None:
        pytest.skip("no git program to make a repository with")
    repo = workspace / "project"
    repo.mkdir(exist_ok=True)
    _git("init", "-q", "-b", "main", cwd=repo)
    (repo / "train.yaml").write_text(SAMPLED_SPEC)
    _git("add", "train.yaml", cwd=repo)
    _git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "spec",
         cwd=repo)
    head = _git("rev-parse", "HEAD", cwd=repo)
    out = _train(workspace, server, SAMPLED_SPEC, name="project/train.yaml")
    assert out.returncode == 0, out.stderr
    tags = MlflowClient(server.url).get_run(_run_id(out.stdout)).data.tags
    assert tags["slipway.git.commit"] == head and tags["mlflow.source.git.commit"] == head

    # A second commit on a branch checked out in a linked worktree (its .git
    # is a file naming the git folder), with the main branch's refs packed.
    tree = workspace / "project-tree"
    _git("worktree", "add", "-q", "-b", "side", str(tree), cwd=repo)
    (tree / "train.yaml").write_text(SAMPLED_SPEC + "# changed\n")
    _git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-am", "side",
         cwd=tree)
    _git("pack-refs", "--all", cwd=repo)
    side = _git("rev-parse", "HEAD", cwd=tree)
    assert side != head and (tree / ".git").is_file()
    out = _train(workspace, server, SAMPLED_SPEC + "# changed\n", name="project-tree/train.yaml")
    assert out.returncode == 0, out.stderr
    tags = MlflowClient(server.url).get_run(_run_id(out.stdout)).data.tags
    assert tags["slipway.git.commit"] == side
    out = _train(workspace, server, SAMPLED_SPEC, name="project/train.yaml")
    tags = MlflowClient(server.url).get_run(_run_id(out.stdout)).data.tags
    assert tags["slipway.git.commit"] == head  # main's ref, now in packed-refs


def test_a_tuned_run_reproduces_with_other_jobs(workspace, server):
    out = _train(workspace, server, RANDOM_SEARCH_SPEC, "--jobs", "2")
    assert out.returncode == 0, out.stderr
    again = slipway("train", "--reproduce", _run_id(out.stdout), "--tracking-uri", server.url,
                    "--jobs", "1", cwd=workspace, check=False)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "reproduce MATCH: 3 of 3 files identical" in again.stdout


def test_a_model_that_differs_is_a_mismatch_and_exit_1(workspace, server):
    out = _train(workspace, server, SAMPLED_SPEC)
    assert out.returncode == 0, out.stderr
    run_id = _run_id(out.stdout)
    # Another model file in the run's place: what a different retraining
    # would have made.
    other = _train(workspace, server, SAMPLED_SPEC.replace("seed: 11", "seed: 12"))
    assert other.returncode == 0, other.stderr
    different = _artifact(server, _run_id(other.stdout), "model/model.ubj")
    assert different != _artifact(server, run_id, "model/model.ubj")
    root = MlflowClient(server.url).get_run(run_id).info.artifact_uri.removeprefix(
        "mlflow-artifacts:").lstrip("/")
    r = requests.put(f"{server.artifacts_api}/{root}/model/model.ubj", data=different, timeout=30)
    assert r.status_code == 200, r.text

    bad = _reproduce(workspace, server, run_id)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert re.search(r"^  model.ubj\s+MISMATCH$", bad.stdout, re.M), bad.stdout
    assert re.search(r"^  preprocessing.json\s+match$", bad.stdout, re.M), bad.stdout
    assert "reproduce MISMATCH: 2 of 3 files identical" in bad.stdout
    assert f"the retrained model differs from run {run_id}" in bad.stderr
    # A version that differs from this build's is named: a likely cause.
    client = MlflowClient(server.url)
    here = client.get_run(run_id).data.tags["slipway.version"]
    assert "when trained" not in bad.stdout
    client.set_tag(run_id, "slipway.version", "0.0.1")
    bad = _reproduce(workspace, server, run_id)
    assert bad.returncode == 1
    assert f"  slipway.version: 0.0.1 when trained, {here} here\n" in bad.stdout, bad.stdout

    # A run slipway train did not make is refused, saying why.
    plain = client.create_run(client.get_run(run_id).info.experiment_id).info.run_id
    refused = _reproduce(workspace, server, plain)
    assert refused.returncode == 1
    assert "has no slipway.dataset tag" in refused.stderr
    # And --reproduce takes nothing the run recorded.
    both = slipway("train", "spec.yaml", "--reproduce", run_id, "--tracking-uri", server.url,
                   cwd=workspace, check=False)
    assert both.returncode == 1 and "--reproduce takes the spec" in both.stderr


GATED = TRAIN_SPEC + """\
gates:
  - {metric: roc_auc, min: 0.9}
  - {metric: log_loss, max: 0.5}
register: {model: NAME, alias: candidate}
"""


def test_a_registered_version_carries_the_model_card(workspace, server):
    client = MlflowClient(server.url)
    out = _train(workspace, server, GATED.replace("NAME", "carded"))
    assert out.returncode == 0, out.stderr
    run_id = _run_id(out.stdout)
    version = client.get_model_version_by_alias("carded", "candidate")
    card = version.description
    assert card == _artifact(server, run_id, "model_card.md").decode()
    metrics = client.get_run(run_id).data.metrics
    tags = client.get_run(run_id).data.tags
    assert card.startswith("# Model card: spec.yaml\n")
    assert "| dataset version | cancer@1 |" in card
    assert f"| content sha256 | `{_data_digest(workspace, 'cancer@1')}` |" in card
    assert f"| roc_auc * | {metrics['cv.roc_auc.mean']:.4f} | {metrics['cv.roc_auc.std']:.4f} | " \
           f"{metrics['holdout.roc_auc']:.4f} |" in card
    assert "**PASSED**" in card
    assert f"| roc_auc >= 0.9 | {metrics['holdout.roc_auc']:.4f} | >= 0.9 |  | yes |" in card
    assert f"| log_loss <= 0.5 | {metrics['holdout.log_loss']:.4f} | <= 0.5 |  | yes |" in card
    assert f"| run | {run_id} |" in card
    assert f"| spec sha256 | `{tags['slipway.spec.sha256']}` |" in card
    assert "| git commit | none (the spec is not in a git working tree) |" in card
    assert f"| Slipway | {tags['slipway.version']} |" in card
    assert f"| XGBoost | {tags['slipway.library.xgboost']} |" in card
    # The registry's own card shows the description as the intended use,
    # its headings nested under that section's.
    registry_card = requests.get(f"{server.url}/api/v1/models/carded/versions/"
                                 f"{version.version}/card", timeout=30).text
    assert registry_card.startswith(f"# Model card: carded version {version.version}\n")
    assert "## Intended use\n\n### Model card: spec.yaml\n" in registry_card
    assert [line for line in registry_card.splitlines() if line.startswith("# ")] == [
        f"# Model card: carded version {version.version}"]

    # A champion gate: the card holds the champion, the margin and the
    # paired bootstrap interval of the improvement. The same spec, data and
    # seed make the same model as the champion's: an improvement of exactly 0.
    champion_spec = GATED.replace("NAME", "carded").replace(
        "  - {metric: log_loss, max: 0.5}\n",
        "  - {metric: roc_auc, champion: candidate, margin: 0}\n")
    out = _train(workspace, server, champion_spec)
    assert out.returncode == 0, out.stdout + out.stderr
    card = client.get_model_version_by_alias("carded", "candidate").description
    auc = f"{metrics['holdout.roc_auc']:.4f}"
    assert (f"| roc_auc >= champion@candidate + 0 | {auc} | champion@candidate + 0 (champion "
            f"{auc}) | [+0.0000, +0.0000] (95%) | yes |") in card, card

    # A failed run registers nothing, and its card says FAILED.
    failing = _train(workspace, server, GATED.replace("NAME", "carded").replace("0.9}", "0.9999}"))
    assert failing.returncode == 1
    card = _artifact(server, _run_id(failing.stdout), "model_card.md").decode()
    assert "**FAILED**" in card and "| **no** |" in card
    assert len(client.search_model_versions("name='carded'")) == 2
