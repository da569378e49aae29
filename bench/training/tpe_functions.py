#!/usr/bin/env python3
"""Optuna's TPESampler (its defaults, seeded) on the test functions of
tpe_functions.cc, the same six-dimension space as bench/training/space.py:
prints "seed best" for seeds 1..SEEDS, TRIALS trials each, of function F.

    python3 bench/training/tpe_functions.py F SEEDS TRIALS
    python3 bench/training/tpe_functions.py --summary slipway.txt optuna.txt
    python3 bench/training/tpe_functions.py --next F N K HISTORY_SEED history.txt

--next: N random trials of function F (Python's random.Random(HISTORY_SEED))
written to history.txt for `tpe_functions --next`, and the loss of the
proposal TPESampler(seed) makes after them, for seeds 1..K (a fresh study
each: the history added with add_trial, then one ask).
"""
import math, sys
import optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
SPACE = [("max_depth", "int", 2, 8), ("eta", "log", 0.01, 0.3), ("subsample", "uni", 0.5, 1.0),
         ("colsample_bytree", "uni", 0.5, 1.0), ("min_child_weight", "log", 0.5, 10.0),
         ("lambda", "log", 0.01, 10.0)]
C = [0.55, 0.3, 0.8, 0.35, 0.2, 0.7]
W = [3, 5, 1, 1, 0.5, 0.3]
def loss(f, u):
    s = 0.0
    if f == 0:
        for i in range(6): s += W[i] * (u[i] - C[i]) ** 2
    elif f == 1:
        for i in range(5):
            a, b = 4 * u[i] - 2, 4 * u[i + 1] - 2
            s += 100 * (b - a * a) ** 2 + (1 - a) ** 2
    else:
        for i in range(6):
            x = 5.12 * (2 * u[i] - 1) - 1
            s += x * x - 10 * math.cos(2 * math.pi * x) + 10
    return s
def objective(f):
    def run(trial):
        u = []
        for name, kind, lo, hi in SPACE:
            if kind == "int":
                v = trial.suggest_int(name, lo, hi); u.append((v - lo) / (hi - lo))
            elif kind == "log":
                v = trial.suggest_float(name, lo, hi, log=True)
                u.append((math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo)))
            else:
                v = trial.suggest_float(name, lo, hi); u.append((v - lo) / (hi - lo))
        return loss(f, u)
    return run
def summary(a_path, b_path):
    """Median and quartiles of each file's bests (smaller is better), and in
    how many seeds the first is better than the second."""
    import statistics

    a, b = ([float(line.split()[1]) for line in open(p) if line.strip()] for p in (a_path, b_path))
    n = min(len(a), len(b))
    for path, v in ((a_path, a[:n]), (b_path, b[:n])):
        q = statistics.quantiles(v, n=4)
        print(f"{path}: median {statistics.median(v):.4g}, q1 {q[0]:.4g}, q3 {q[2]:.4g}")
    print(f"{a_path} better in {sum(x < y for x, y in zip(a, b))} of {n} seeds")


def unit(params):
    u = []
    for name, kind, lo, hi in SPACE:
        v = params[name]
        u.append((math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo)) if kind == "log"
                 else (v - lo) / (hi - lo))
    return u


def next_proposals(f, n, k, history_seed, path):
    import random

    from optuna.distributions import FloatDistribution, IntDistribution

    dists = {name: IntDistribution(lo, hi) if kind == "int"
             else FloatDistribution(lo, hi, log=kind == "log") for name, kind, lo, hi in SPACE}
    rng = random.Random(history_seed)
    history = []
    for _ in range(n):
        p = {}
        for name, kind, lo, hi in SPACE:
            if kind == "int":
                p[name] = rng.randint(lo, hi)
            elif kind == "log":
                p[name] = math.exp(rng.uniform(math.log(lo), math.log(hi)))
            else:
                p[name] = rng.uniform(lo, hi)
        history.append((p, loss(f, unit(p))))
    with open(path, "w") as out:
        for p, value in history:
            out.write(" ".join(repr(float(p[name])) for name, *_ in SPACE) + f" {value!r}\n")
    for seed in range(1, k + 1):
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
        for p, value in history:
            study.add_trial(optuna.trial.create_trial(params=p, distributions=dists, value=value))
        print(repr(loss(f, unit(study.ask(dists).params))))


if sys.argv[1] == "--next":
    next_proposals(*map(int, sys.argv[2:6]), sys.argv[6])
    sys.exit(0)
if sys.argv[1] == "--summary":
    summary(sys.argv[2], sys.argv[3])
    sys.exit(0)
f, seeds, trials = map(int, sys.argv[1:4])
for seed in range(1, seeds + 1):
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective(f), n_trials=trials)
    print(seed, repr(study.best_value))
