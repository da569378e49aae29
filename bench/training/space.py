"""The search space bench/training gives both tuners: Optuna's suggest calls
and the same dimensions as a Slipway spec's `search.space`."""
from __future__ import annotations

# name, kind (int | uniform | log_uniform), low, high
SPACE = [
    ("max_depth", "int", 2, 8),
    ("eta", "log_uniform", 0.01, 0.3),
    ("subsample", "uniform", 0.5, 1.0),
    ("colsample_bytree", "uniform", 0.5, 1.0),
    ("min_child_weight", "log_uniform", 0.5, 10.0),
    ("lambda", "log_uniform", 0.01, 10.0),
]


def suggest(trial) -> dict:
    out = {}
    for name, kind, low, high in SPACE:
        if kind == "int":
            out[name] = trial.suggest_int(name, low, high)
        else:
            out[name] = trial.suggest_float(name, low, high, log=kind == "log_uniform")
    return out


def yaml_space(indent: str = "    ") -> str:
    return "".join(f"{indent}{name}: {{{kind}: [{low}, {high}]}}\n"
                   for name, kind, low, high in SPACE)
