"""MLflow's python_function loader of a model trained by `slipway train`.

`slipway train` writes this file into every model folder (code/slipway_pyfunc.py)
and names it as the python_function flavor's loader_module, so
`mlflow.pyfunc.load_model(folder)` predicts from raw columns exactly as
Slipway serves them: preprocessing.json first, with the per-value rules of
Slipway's src/ml/preprocessing.h, then the model.

  numeric      missing (NaN, None) -> `fill` (null: kept missing), then
               (x - center) / scale; booleans read as 0/1.
  categorical  missing -> `missing_as`; then the index of the text in the
               sorted `categories` (unseen: none). onehot: one 0/1 column per
               category (unseen: all zeros); native: one column holding the
               index (unseen: NaN), which XGBoost reads as a category.

Then model.ubj through xgboost's Booster (the same file mlflow.xgboost
loads), or model.json (intercept and coefficients by column) for a linear
or logistic model.

predict(df) answers as Slipway's serving does: a regression's values; a
classifier's labels (integers when every class is one, booleans for the
classes false and true, else text); with params={"predict_method":
"predict_proba"} one row of class probabilities per input row, in the
classes' order (binary: [P(class 0), P(class 1)]).

Compiled into the slipway binary; edit it here (src/training/slipway_pyfunc.py).
"""

import json
import math
import os

import numpy as np
import pandas as pd
import yaml


def _load_pyfunc(path):
    return SlipwayModel(path)


def _is_integer(text):
    digits = text[1:] if text.startswith("-") else text
    return 0 < len(digits) and len(text) <= 18 and digits.isascii() and digits.isdigit()


def _missing(value):
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


class SlipwayModel:
    """A trained model with its preprocessing; immutable once loaded."""

    def __init__(self, path):
        # Every scalar as text: YAML 1.1 would read the classes no and yes
        # as booleans.
        with open(os.path.join(path, "MLmodel"), encoding="utf-8") as f:
            flavor = yaml.load(f, Loader=yaml.BaseLoader)["flavors"]["slipway"]
        if flavor.get("format_version") != "1":
            raise ValueError("unknown slipway flavor format_version %r" %
                             flavor.get("format_version"))
        with open(os.path.join(path, flavor["preprocessing"]), encoding="utf-8") as f:
            pre = json.load(f)
        if pre.get("format_version") != 1:
            raise ValueError("preprocessing.json: expected format_version 1")
        self.features = pre["features"]
        self.outputs = pre["outputs"]
        self.task = flavor["task"]
        self.classes = list(flavor.get("classes") or [])
        self.model_type = flavor["model_type"]
        data = os.path.join(path, flavor["data"])
        if self.model_type == "xgboost":
            import xgboost
            self.booster = xgboost.Booster(model_file=data)
        elif self.model_type in ("linear", "logistic"):
            with open(data, encoding="utf-8") as f:
                model = json.load(f)
            width = lambda v: v if isinstance(v, list) else [v]
            self.link = model["link"]
            self.intercept = np.array(width(model["intercept"]), dtype=np.float64)
            self.coefficients = np.array(
                [width(model["coefficients"][name]) for name in self.outputs], dtype=np.float64)
        else:
            raise ValueError("Slipway model type %r is not one this loader knows" %
                             self.model_type)

    def get_raw_model(self):
        return self.booster if self.model_type == "xgboost" else {
            "link": self.link, "intercept": self.intercept, "coefficients": self.coefficients}

    def preprocess(self, data):
        """The raw columns of `data` as the model's float64 matrix."""
        frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
        n = len(frame)
        out = np.zeros((n, len(self.outputs)), dtype=np.float64)
        col = 0
        for i, f in enumerate(self.features):
            name = f["name"]
            if name in frame.columns:
                values = frame[name].tolist()
            elif i < frame.shape[1] and all(isinstance(c, int) for c in frame.columns):
                values = frame.iloc[:, i].tolist()
            else:
                raise ValueError("the input has no column '%s', a model feature" % name)
            if f["kind"] == "numeric":
                out[:, col] = self._numeric(f, values)
                col += 1
                continue
            categories = f["categories"]
            index = {c: k for k, c in enumerate(categories)}
            missing = index.get(f["missing_as"], -1) if f["missing_as"] else -1
            codes = np.empty(n, dtype=np.int64)
            for r, v in enumerate(values):
                if _missing(v):
                    codes[r] = missing
                elif isinstance(v, str):
                    codes[r] = index.get(v, -1)
                else:
                    raise ValueError("input column '%s' must be of type string, not %s" %
                                     (name, type(v).__name__))
            if f["encoding"] == "native":
                out[:, col] = np.where(codes < 0, np.nan, codes)
                col += 1
            else:
                seen = codes >= 0
                out[np.nonzero(seen)[0], col + codes[seen]] = 1.0
                col += len(categories)
        return out

    @staticmethod
    def _numeric(f, values):
        x = np.empty(len(values), dtype=np.float64)
        for r, v in enumerate(values):
            if _missing(v):
                x[r] = np.nan
            elif isinstance(v, (bool, np.bool_, int, float, np.integer, np.floating)):
                x[r] = float(v)
            else:
                raise ValueError("input column '%s' must be numeric, not %s" %
                                 (f["name"], type(v).__name__))
        fill = np.nan if f["fill"] is None else f["fill"]
        x = np.where(np.isnan(x), fill, x)
        return (x - f["center"]) / f["scale"]

    def scores(self, data):
        """The model's outputs: values, P(class 1), or a row of class probabilities."""
        x = self.preprocess(data)
        if self.model_type == "xgboost":
            import xgboost
            matrix = xgboost.DMatrix(x, missing=np.nan, feature_names=self.booster.feature_names,
                                     feature_types=self.booster.feature_types,
                                     enable_categorical=True)
            return np.asarray(self.booster.predict(matrix), dtype=np.float64)
        z = x @ self.coefficients + self.intercept
        if self.link == "logistic":
            return 1.0 / (1.0 + np.exp(-z[:, 0]))
        if self.link == "softmax":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        return z[:, 0]

    def predict(self, data, params=None):
        method = (params or {}).get("predict_method", "predict")
        if method not in ("predict", "predict_proba"):
            raise ValueError('params.predict_method must be "predict" or "predict_proba", not %r'
                             % method)
        s = self.scores(data)
        if self.task == "regression":
            if method == "predict_proba":
                raise ValueError("params.predict_method predict_proba: the model is a regression")
            return s
        if self.task == "binary":
            proba = np.column_stack([1.0 - s, s])
            index = (s > 0.5).astype(np.int64)
        else:
            proba = s.reshape(len(s), -1)
            index = proba.argmax(axis=1)
        if method == "predict_proba":
            return proba
        if self.classes and all(_is_integer(c) for c in self.classes):
            labels = np.array([int(c) for c in self.classes], dtype=np.int64)
        elif self.classes == ["false", "true"]:
            labels = np.array([False, True])
        else:
            labels = np.array(self.classes, dtype=object)
        return labels[index]
