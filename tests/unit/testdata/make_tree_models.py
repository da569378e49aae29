#!/usr/bin/env python3
"""Writes the MLflow tree models tree_models_test.cc checks Slipway against.

Usage: make_tree_models.py OUT_DIR

For every case it saves an MLflow Model folder with the real mlflow.xgboost /
mlflow.lightgbm save_model, an input table, and what MLflow's pyfunc (and the
raw booster) predict on it, so the native evaluator is compared with the
libraries themselves, never with numbers written by hand. OUT_DIR/manifest.json
lists the cases:

  {"name", "model_dir", "input": {"columns": [{"name", "type", "values"}]},
   "expected": {"layout": "vector"|"matrix", "width", "values"},
   "raw": {...same shape, the raw booster's predict...} | null,
   "native": true|false}

A model written by Debian's xgboost 1.7 (libxgboost-dev) is added when its C
API is available: a small C program trains and saves it through that library,
and its own XGBoosterPredict gives the expected values.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")
os.environ.setdefault("MLFLOW_TRACKING_URI", "file:///nonexistent-not-used")

import lightgbm as lgb  # noqa: E402
import mlflow  # noqa: E402
import mlflow.lightgbm  # noqa: E402
import mlflow.xgboost  # noqa: E402
import xgboost as xgb  # noqa: E402
from mlflow.models import infer_signature  # noqa: E402

OUT = sys.argv[1]
RNG = np.random.default_rng(7)
CASES = []


def table(n=300, with_nan=True, cat=False, n_num=4):
    data = {}
    for i in range(n_num):
        col = RNG.normal(size=n) * (i + 1)
        if with_nan:
            col[RNG.random(n) < 0.15] = np.nan
        data[f"f{i}"] = col
    df = pd.DataFrame(data)
    if cat:
        df["color"] = pd.Categorical(RNG.choice(["red", "green", "blue", "grey"], n))
    return df


def column_json(df):
    cols = []
    for name in df.columns:
        s = df[name]
        if isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object:
            cols.append({"name": name, "type": "string", "values": [str(v) for v in s]})
        elif np.issubdtype(s.dtype, np.integer):
            cols.append({"name": name, "type": "long", "values": [int(v) for v in s]})
        else:
            cols.append(
                {
                    "name": name,
                    "type": "double",
                    "values": [None if np.isnan(v) else float(v) for v in s],
                }
            )
    return {"columns": cols}


def result_json(pred):
    a = np.asarray(pred)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim == 1:
        return {"layout": "vector", "width": 1, "values": [float(v) for v in a]}
    return {"layout": "matrix", "width": int(a.shape[1]), "values": [float(v) for v in a.ravel()]}


def add(name, model_dir, df, raw=None, native=True, input_df=None, pred=None):
    if pred is None:
        pred = mlflow.pyfunc.load_model(model_dir).predict(input_df if input_df is not None else df)
    CASES.append(
        {
            "name": name,
            "model_dir": model_dir,
            "input": column_json(input_df if input_df is not None else df),
            "expected": result_json(pred),
            "raw": result_json(raw) if raw is not None else None,
            "native": native,
        }
    )


def save_xgb(name, model, df, fmt):
    path = os.path.join(OUT, name)
    shutil.rmtree(path, ignore_errors=True)
    sig_pred = model.predict(xgb.DMatrix(df, enable_categorical=True)) if isinstance(
        model, xgb.Booster
    ) else model.predict(df)
    mlflow.xgboost.save_model(
        model, path, model_format=fmt, signature=infer_signature(df, sig_pred)
    )
    return path


def labels(df, k=2):
    score = np.nan_to_num(df["f0"].to_numpy()) + 0.5 * np.nan_to_num(df["f1"].to_numpy())
    if k == 2:
        return (score > 0).astype(int)
    return np.digitize(score, np.quantile(score, np.linspace(0, 1, k + 1)[1:-1]))


def target(df):
    return (
        2.0 * np.nan_to_num(df["f0"].to_numpy())
        - np.abs(np.nan_to_num(df["f2"].to_numpy()))
        + RNG.normal(size=len(df)) * 0.1
    )


def xgboost_cases():
    # Boosters through xgb.train, one per objective, JSON and UBJSON.
    df = table()
    y2, y3 = labels(df), labels(df, 3)
    yr = target(df)
    ypos = np.exp(yr / 4)
    objectives = [
        ("binary:logistic", y2, {}),
        ("binary:logitraw", y2, {}),
        ("reg:logistic", y2, {}),
        ("reg:squarederror", yr, {}),
        ("reg:absoluteerror", yr, {}),
        ("reg:pseudohubererror", yr, {}),
        ("count:poisson", np.round(ypos), {}),
        ("reg:gamma", ypos, {}),
        ("reg:tweedie", ypos, {"tweedie_variance_power": 1.3}),
        ("multi:softprob", y3, {"num_class": 3}),
        ("multi:softmax", y3, {"num_class": 3}),
    ]
    for i, (obj, y, extra) in enumerate(objectives):
        params = {"objective": obj, "max_depth": 4, "eta": 0.3, **extra}
        booster = xgb.train(params, xgb.DMatrix(df, label=y), num_boost_round=12)
        fmt = "json" if i % 2 == 0 else "ubj"
        name = "xgb_booster_" + obj.replace(":", "_") + "_" + fmt
        path = save_xgb(name, booster, df, fmt)
        add(name, path, df, raw=booster.predict(xgb.DMatrix(df)))

    # dart: prediction uses every tree with its weight.
    booster = xgb.train(
        {"objective": "binary:logistic", "booster": "dart", "rate_drop": 0.2, "max_depth": 3},
        xgb.DMatrix(df, label=y2),
        num_boost_round=10,
    )
    add("xgb_booster_dart_json", save_xgb("xgb_booster_dart_json", booster, df, "json"), df,
        raw=booster.predict(xgb.DMatrix(df)))

    # scikit-learn wrappers: pyfunc predict gives labels for a classifier.
    clf = xgb.XGBClassifier(n_estimators=15, max_depth=3).fit(df, y2)
    add("xgb_classifier_binary_ubj", save_xgb("xgb_classifier_binary_ubj", clf, df, "ubj"), df,
        raw=clf.predict_proba(df)[:, 1])
    clf3 = xgb.XGBClassifier(n_estimators=15, max_depth=3).fit(df, y3)
    add("xgb_classifier_multi_json", save_xgb("xgb_classifier_multi_json", clf3, df, "json"), df,
        raw=clf3.predict_proba(df))
    reg = xgb.XGBRegressor(n_estimators=20, max_depth=4).fit(df, yr)
    add("xgb_regressor_ubj", save_xgb("xgb_regressor_ubj", reg, df, "ubj"), df)
    # Early stopping: the wrapper predicts with best_iteration's trees only.
    es = xgb.XGBRegressor(n_estimators=200, max_depth=6, eta=0.5, early_stopping_rounds=3).fit(
        df[:150], yr[:150], eval_set=[(df[150:], yr[150:])], verbose=False
    )
    add("xgb_regressor_early_stop_json", save_xgb("xgb_regressor_early_stop_json", es, df, "json"),
        df)
    # Trained on a numpy array: no feature names, features by position.
    plain = xgb.XGBRegressor(n_estimators=10, max_depth=3).fit(df.to_numpy(), yr)
    path = os.path.join(OUT, "xgb_regressor_unnamed_json")
    shutil.rmtree(path, ignore_errors=True)
    mlflow.xgboost.save_model(plain, path, model_format="json")
    add("xgb_regressor_unnamed_json", path, df)

    # Categorical features (pandas category dtype): the model stores the
    # category names, pyfunc input carries strings.
    dfc = table(cat=True)
    yc = (labels(dfc) ^ (dfc["color"] == "green").to_numpy()).astype(int)
    cclf = xgb.XGBClassifier(
        n_estimators=10, max_depth=3, enable_categorical=True, tree_method="hist", max_cat_to_onehot=1
    ).fit(dfc, yc)
    path = os.path.join(OUT, "xgb_classifier_categorical_ubj")
    shutil.rmtree(path, ignore_errors=True)
    mlflow.xgboost.save_model(cclf, path, model_format="ubj")
    add("xgb_classifier_categorical_ubj", path, dfc, raw=cclf.predict_proba(dfc)[:, 1])
    cb = xgb.train(
        {"objective": "reg:squarederror", "max_depth": 4, "max_cat_to_onehot": 1},
        xgb.DMatrix(dfc, label=target(dfc), enable_categorical=True),
        num_boost_round=10,
    )
    path = os.path.join(OUT, "xgb_booster_categorical_json")
    shutil.rmtree(path, ignore_errors=True)
    mlflow.xgboost.save_model(cb, path, model_format="json")
    # MLflow's pyfunc builds DMatrix(data) without enable_categorical, so it
    # cannot predict this Booster on a category column: the booster is the
    # reference.
    raw = cb.predict(xgb.DMatrix(dfc, enable_categorical=True))
    add("xgb_booster_categorical_json", path, dfc, raw=raw, pred=raw)


def lightgbm_cases():
    df = table()
    y2, y3, yr = labels(df), labels(df, 3), target(df)
    setups = [
        ("lgb_binary", {"objective": "binary"}, y2),
        ("lgb_multiclass", {"objective": "multiclass", "num_class": 3}, y3),
        ("lgb_regression", {"objective": "regression"}, yr),
        ("lgb_regression_l1", {"objective": "regression_l1"}, yr),
        ("lgb_poisson", {"objective": "poisson"}, np.round(np.exp(yr / 4))),
        ("lgb_multiclassova", {"objective": "multiclassova", "num_class": 3}, y3),
    ]
    for name, params, y in setups:
        params = {**params, "num_leaves": 15, "min_data_in_leaf": 5, "verbose": -1}
        booster = lgb.train(params, lgb.Dataset(df, label=y), num_boost_round=15)
        path = os.path.join(OUT, name)
        shutil.rmtree(path, ignore_errors=True)
        mlflow.lightgbm.save_model(booster, path, signature=infer_signature(df, booster.predict(df)))
        add(name, path, df, raw=booster.predict(df))

    # Missing values as zeros (zero_as_missing) and a categorical feature given
    # as integer codes.
    dfi = df.copy()
    dfi["f3"] = np.nan_to_num(dfi["f3"].to_numpy())
    dfi["code"] = RNG.integers(0, 6, len(dfi))
    yc = yr + np.where(dfi["code"].isin([1, 4]), 3.0, 0.0)
    booster = lgb.train(
        {"objective": "regression", "num_leaves": 15, "min_data_in_leaf": 5, "verbose": -1,
         "zero_as_missing": True, "min_data_per_group": 5, "cat_smooth": 1},
        lgb.Dataset(dfi, label=yc, categorical_feature=["code"]),
        num_boost_round=15,
    )
    path = os.path.join(OUT, "lgb_categorical_codes")
    shutil.rmtree(path, ignore_errors=True)
    mlflow.lightgbm.save_model(booster, path, signature=infer_signature(dfi, booster.predict(dfi)))
    add("lgb_categorical_codes", path, dfi, raw=booster.predict(dfi))

    # A scikit-learn wrapper is pickled: not evaluated natively.
    clf = lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(df, y2)
    path = os.path.join(OUT, "lgb_sklearn_classifier")
    shutil.rmtree(path, ignore_errors=True)
    mlflow.lightgbm.save_model(clf, path, serialization_format="pickle")
    add("lgb_sklearn_classifier", path, df, native=False)


C_PROGRAM = r"""
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <xgboost/c_api.h>
#define CHECK(x) if ((x) != 0) { fprintf(stderr, "%s\n", XGBGetLastError()); return 1; }
/* argv: data.bin rows cols labels.bin objective num_class rounds model_out preds_out */
int main(int argc, char** argv) {
  if (argc != 10) return 2;
  int rows = atoi(argv[2]), cols = atoi(argv[3]);
  float* x = malloc(sizeof(float) * rows * cols);
  float* y = malloc(sizeof(float) * rows);
  FILE* f = fopen(argv[1], "rb"); fread(x, sizeof(float), rows * cols, f); fclose(f);
  f = fopen(argv[4], "rb"); fread(y, sizeof(float), rows, f); fclose(f);
  DMatrixHandle d; CHECK(XGDMatrixCreateFromMat(x, rows, cols, NAN, &d));
  CHECK(XGDMatrixSetFloatInfo(d, "label", y, rows));
  BoosterHandle b; CHECK(XGBoosterCreate(&d, 1, &b));
  CHECK(XGBoosterSetParam(b, "objective", argv[5]));
  CHECK(XGBoosterSetParam(b, "max_depth", "4"));
  CHECK(XGBoosterSetParam(b, "nthread", "1"));
  if (atoi(argv[6]) > 1) CHECK(XGBoosterSetParam(b, "num_class", argv[6]));
  for (int i = 0; i < atoi(argv[7]); ++i) CHECK(XGBoosterUpdateOneIter(b, i, d));
  CHECK(XGBoosterSaveModel(b, argv[8]));
  bst_ulong len; const float* out;
  CHECK(XGBoosterPredict(b, d, 0, 0, 0, &len, &out));
  f = fopen(argv[9], "wb"); fwrite(out, sizeof(float), len, f); fclose(f);
  return 0;
}
"""

MLMODEL_17 = """flavors:
  python_function:
    data: model.json
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.xgboost
    python_version: 3.11.2
  xgboost:
    code: null
    data: model.json
    model_class: xgboost.core.Booster
    model_format: json
    xgb_version: 1.7.4
mlflow_version: 2.2.2
model_uuid: 17a
"""


def debian_xgboost_cases():
    """Models written by Debian's libxgboost (1.7) through its C API."""
    if not os.path.exists("/usr/include/xgboost/c_api.h"):
        print("libxgboost-dev is not installed: no xgboost 1.7 cases", file=sys.stderr)
        return
    work = tempfile.mkdtemp()
    src = os.path.join(work, "train17.c")
    exe = os.path.join(work, "train17")
    with open(src, "w") as f:
        f.write(C_PROGRAM)
    subprocess.run(["cc", "-O1", "-o", exe, src, "-lxgboost", "-lm"], check=True)
    df = table()
    x = df.to_numpy(dtype=np.float32)
    x.tofile(os.path.join(work, "x.bin"))
    for obj, y, k in [
        ("binary:logistic", labels(df), 1),
        ("multi:softprob", labels(df, 3), 3),
        ("reg:squarederror", target(df), 1),
        ("binary:logitraw", labels(df), 1),
        ("count:poisson", np.round(np.exp(target(df) / 4)), 1),
    ]:
        name = "xgb17_" + obj.replace(":", "_")
        path = os.path.join(OUT, name)
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
        np.asarray(y, dtype=np.float32).tofile(os.path.join(work, "y.bin"))
        preds = os.path.join(work, "p.bin")
        subprocess.run(
            [exe, os.path.join(work, "x.bin"), str(len(df)), str(x.shape[1]),
             os.path.join(work, "y.bin"), obj, str(k), "10", os.path.join(path, "model.json"), preds],
            check=True,
        )
        with open(os.path.join(path, "MLmodel"), "w") as f:
            f.write(MLMODEL_17)
        p = np.fromfile(preds, dtype=np.float32)
        if k > 1:
            p = p.reshape(len(df), k)
        # Written by 1.7: its own predictor is the reference, and the current
        # xgboost must agree when it reads the same file.
        current = xgb.Booster()
        current.load_model(os.path.join(path, "model.json"))
        assert np.allclose(current.predict(xgb.DMatrix(x)), p, atol=1e-6)
        CASES.append({"name": name, "model_dir": path, "input": column_json(df),
                      "expected": result_json(p), "raw": None, "native": True})
    shutil.rmtree(work)


os.makedirs(OUT, exist_ok=True)
xgboost_cases()
lightgbm_cases()
debian_xgboost_cases()
with open(os.path.join(OUT, "manifest.json"), "w") as f:
    json.dump({"cases": CASES}, f)
print(f"wrote {len(CASES)} cases to {OUT}")
