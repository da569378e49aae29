"""Saves the MLflow models python_model_test.cc serves through Python workers.

Usage: python3 make_python_models.py OUT_DIR

Writes one MLflow Model folder per case under OUT_DIR, and OUT_DIR/expected.json:
for each case the input columns the test sends and the reply MLflow's own
scoring code gives for them: mlflow.pyfunc.load_model(dir).predict(X) written
by scoring_server.predictions_to_json (so the test compares with what
`mlflow models serve` would answer).
"""

import io
import json
import os
import sys
import time

import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from mlflow.pyfunc.scoring_server import predictions_to_json
from mlflow.types.schema import Schema, TensorSpec
from mlflow.models.signature import ModelSignature
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler


class RecordsModel(mlflow.pyfunc.PythonModel):
    """Returns a table: one row per input row, three typed columns."""

    def predict(self, context, model_input, params=None):
        x = model_input["x"].to_numpy()
        return pd.DataFrame(
            {
                "doubled": x * 2.0,
                "label": np.where(x > 0, "pos", "neg"),
                "index": np.arange(len(x), dtype=np.int64),
            }
        )


class GreetingModel(mlflow.pyfunc.PythonModel):
    """Returns strings built from a string column (missing names included)."""

    def predict(self, context, model_input, params=None):
        return [
            "nobody" if not isinstance(name, str) else "hello " + name + "!" for name in model_input["name"]
        ]


class SummaryModel(mlflow.pyfunc.PythonModel):
    """Returns a dict (one summary of the whole input, not one value per row)."""

    def predict(self, context, model_input, params=None):
        x = model_input["x"]
        return {"rows": int(len(x)), "mean": float(x.mean()), "signs": ["+" if v > 0 else "-" for v in x]}


class FailingModel(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        raise ValueError("the answer must be 42, got %d rows" % len(model_input))


class UnloadableModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        raise RuntimeError("cannot open the weights: simulated load failure")

    def predict(self, context, model_input, params=None):
        return model_input


class ChattyModel(mlflow.pyfunc.PythonModel):
    """Prints to stdout (bytes that would look like a length prefix too).

    Params let the tests see and steer a call without timing it: `started_file`
    is created when predict starts; with `rendezvous_dir` and `parties`, each
    call leaves a file there and waits (60 s at most) until `parties` calls
    are in predict at once; `sleep` keeps it busy afterwards."""

    def predict(self, context, model_input, params=None):
        params = params or {}
        print("\x10\x00\x00\x00chatty predict on %d rows" % len(model_input))
        sys.stdout.write("no newline at the end")
        os.write(1, b"\x00\x00\x00\x05 straight to fd 1\n")
        if params.get("started_file"):
            open(params["started_file"], "w").close()
        if params.get("rendezvous_dir"):
            folder = params["rendezvous_dir"]
            open(os.path.join(folder, str(os.getpid())), "w").close()
            deadline = time.monotonic() + 60
            while len(os.listdir(folder)) < params["parties"]:
                if time.monotonic() > deadline:
                    raise TimeoutError("the other calls never ran alongside this one")
                time.sleep(0.01)
        if params.get("sleep"):
            time.sleep(params["sleep"])
        return model_input["x"].to_numpy() + 1.0


class TensorModel(mlflow.pyfunc.PythonModel):
    """Takes a [-1, 3] float64 tensor: receives a numpy array, not a table."""

    def predict(self, context, model_input, params=None):
        assert isinstance(model_input, np.ndarray), type(model_input)
        return model_input.sum(axis=1) * np.array([1.0])


def expected(model_dir, data, params=None):
    model = mlflow.pyfunc.load_model(model_dir)
    out = io.StringIO()
    predictions_to_json(model.predict(data, params=params), out)
    return json.loads(out.getvalue())


def columns(df):
    # pandas 3 keeps a missing string as NaN: JSON's null here.
    def plain(v):
        return None if isinstance(v, float) and v != v else v

    return [
        {"name": str(c), "type": type_of(df[c]), "values": [plain(v) for v in df[c].tolist()]}
        for c in df.columns
    ]


def type_of(series):
    return {"f": "double", "i": "long", "O": "string"}[series.dtype.kind]


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    cases = {}
    rng = np.random.default_rng(7)

    # scikit-learn: StandardScaler + LogisticRegression, with a signature.
    x = pd.DataFrame(
        {
            "f0": rng.normal(size=40),
            "f1": rng.normal(scale=10.0, size=40),
            "n": rng.integers(0, 5, size=40).astype(np.int64),
        }
    )
    y = (x["f0"] + x["f1"] / 10.0 + x["n"] * 0.2 > 0.4).astype(np.int64)
    pipeline = Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression())]).fit(x, y)
    test_x = x.iloc[:12].reset_index(drop=True)
    for name, method in (("sklearn_labels", "predict"), ("sklearn_proba", "predict_proba")):
        path = os.path.join(out_dir, name)
        mlflow.sklearn.save_model(
            pipeline,
            path,
            signature=infer_signature(x, getattr(pipeline, method)(x)),
            pyfunc_predict_fn=method,
        )
        cases[name] = {"input": columns(test_x), "expected": expected(path, test_x)}

    small = pd.DataFrame({"x": [-1.5, 0.25, 3.0, -0.0, 7.125]})
    path = os.path.join(out_dir, "records")
    mlflow.pyfunc.save_model(path, python_model=RecordsModel())
    cases["records"] = {"input": columns(small), "expected": expected(path, small)}

    names = pd.DataFrame({"name": ["ada", "zoë", None, "", "grace hopper"]})
    path = os.path.join(out_dir, "strings")
    mlflow.pyfunc.save_model(path, python_model=GreetingModel())
    cases["strings"] = {"input": columns(names), "expected": expected(path, names)}

    path = os.path.join(out_dir, "summary")
    mlflow.pyfunc.save_model(path, python_model=SummaryModel())
    cases["summary"] = {"input": columns(small), "expected": expected(path, small)}

    mlflow.pyfunc.save_model(os.path.join(out_dir, "raises"), python_model=FailingModel())
    mlflow.pyfunc.save_model(os.path.join(out_dir, "unloadable"), python_model=UnloadableModel())

    path = os.path.join(out_dir, "chatty")
    mlflow.pyfunc.save_model(
        path,
        python_model=ChattyModel(),
        signature=infer_signature(
            small,
            small["x"].to_numpy(),
            params={"sleep": 0.0, "started_file": "", "rendezvous_dir": "", "parties": 0},
        ),
    )
    cases["chatty"] = {"input": columns(small), "expected": expected(path, small)}

    tensor = np.arange(12, dtype=np.float64).reshape(4, 3) / 4.0
    path = os.path.join(out_dir, "tensor")
    mlflow.pyfunc.save_model(
        path,
        python_model=TensorModel(),
        signature=ModelSignature(
            inputs=Schema([TensorSpec(np.dtype(np.float64), (-1, 3))]),
            outputs=Schema([TensorSpec(np.dtype(np.float64), (-1,))]),
        ),
    )
    cases["tensor"] = {
        "input": [{"name": "", "type": "double", "width": 3, "values": tensor.reshape(-1).tolist()}],
        "expected": expected(path, tensor),
    }

    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump(cases, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
