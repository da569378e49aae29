#!/usr/bin/env python3
"""The Python anchor of bench/training: what `slipway train SPEC` does, written
as a data scientist would with scikit-learn, xgboost, optuna and mlflow.

Reads the CSV, keeps the holdout rows out (given, so both sides score the same
rows), tunes XGBoost with Optuna's TPESampler (k-fold stratified CV, each trial
logged to the tracking server as a child run with its params, per-fold metrics,
their mean and std), refits the best params on every row but the holdout's,
scores the holdout, and logs the parent run: params, metrics, the holdout
predictions and the model (mlflow.xgboost.log_model). Prints one JSON line:
{"best_params", "best_cv", "holdout_roc_auc", "trials", "seconds"}.

    python3 bench/training/optuna_mlflow.py --data cancer.csv --target malignant \
        --holdout-rows holdout.txt --tracking-uri http://127.0.0.1:5000 --seed 1
"""
from __future__ import annotations

import argparse
import json
import os
import time

START = time.time()  # the whole script is timed by the caller; this is for the JSON only

import mlflow  # noqa: E402
import mlflow.xgboost  # noqa: E402
import numpy as np  # noqa: E402
import optuna  # noqa: E402
import pandas as pd  # noqa: E402
import xgboost as xgb  # noqa: E402
from mlflow.entities import Metric, Param  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402
from sklearn.metrics import log_loss, roc_auc_score  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402

from space import suggest  # noqa: E402  (bench/training/space.py: the search space)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--holdout-rows", required=True, help="file of row numbers, one a line")
    ap.add_argument("--tracking-uri", required=True)
    ap.add_argument("--experiment", default="bench-optuna")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args()

    frame = pd.read_csv(args.data)
    holdout = np.array(sorted(int(line) for line in open(args.holdout_rows) if line.strip()))
    training = np.setdiff1d(np.arange(len(frame)), holdout)
    y = frame[args.target].to_numpy()
    x = frame.drop(columns=[args.target]).to_numpy(dtype=np.float32)
    x_train, y_train = x[training], y[training]
    folds = list(StratifiedKFold(args.folds, shuffle=True,
                                 random_state=args.seed).split(x_train, y_train))
    nthread = max(1, (os.cpu_count() or 1) // args.jobs)
    base = {"objective": "binary:logistic", "tree_method": "hist", "seed": args.seed,
            "nthread": nthread, "verbosity": 0}

    mlflow.set_tracking_uri(args.tracking_uri)
    mlflow.set_experiment(args.experiment)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    client = MlflowClient()
    with mlflow.start_run() as parent:
        parent_id = parent.info.run_id
        experiment_id = parent.info.experiment_id
        mlflow.log_params({"model": "xgboost", "num_boost_round": args.rounds,
                           "folds": args.folds, "trials": args.trials, "seed": args.seed,
                           "search.algorithm": "tpe"})

        def objective(trial: optuna.Trial) -> float:
            params = {**base, **suggest(trial)}
            scores = []
            for train_idx, valid_idx in folds:
                dtrain = xgb.DMatrix(x_train[train_idx], label=y_train[train_idx])
                dvalid = xgb.DMatrix(x_train[valid_idx], label=y_train[valid_idx])
                booster = xgb.train(params, dtrain, num_boost_round=args.rounds)
                scores.append(roc_auc_score(y_train[valid_idx], booster.predict(dvalid)))
            # One child run per trial, as slipway logs them (the client, not
            # the fluent API: Optuna's n_jobs runs trials on threads).
            now = int(time.time() * 1000)
            child = client.create_run(experiment_id, run_name=f"trial-{trial.number}",
                                      tags={"mlflow.parentRunId": parent_id})
            metrics = [Metric("cv.roc_auc", s, now, i) for i, s in enumerate(scores)]
            metrics += [Metric("cv.roc_auc.mean", float(np.mean(scores)), now, 0),
                        Metric("cv.roc_auc.std", float(np.std(scores)), now, 0)]
            params = [Param(f"model.params.{k}", str(v)) for k, v in trial.params.items()]
            params.append(Param("trial", str(trial.number)))
            client.log_batch(child.info.run_id, metrics=metrics, params=params)
            client.set_terminated(child.info.run_id)
            return float(np.mean(scores))

        study = optuna.create_study(direction="maximize",
                                    sampler=optuna.samplers.TPESampler(seed=args.seed))
        study.optimize(objective, n_trials=args.trials, n_jobs=args.jobs)

        best = {**base, **study.best_params}
        final = xgb.train(best, xgb.DMatrix(x_train, label=y_train), num_boost_round=args.rounds)
        p = final.predict(xgb.DMatrix(x[holdout]))
        auc = float(roc_auc_score(y[holdout], p))
        mlflow.log_params({f"model.params.{k}": v for k, v in study.best_params.items()})
        mlflow.log_metrics({"cv.roc_auc.mean": study.best_value, "holdout.roc_auc": auc,
                            "holdout.log_loss": float(log_loss(y[holdout], p))})
        mlflow.log_text(pd.DataFrame({"row": holdout, "y": y[holdout], "prediction": p})
                        .to_csv(index=False), "evaluation/holdout_predictions.csv")
        mlflow.xgboost.log_model(final, name="model")
    print(json.dumps({"best_params": study.best_params, "best_cv": study.best_value,
                      "holdout_roc_auc": auc, "trials": len(study.trials),
                      "seconds": time.time() - START}))


if __name__ == "__main__":
    main()
