#!/usr/bin/env python3
"""The model and request bodies of bench/serving, and the in-process reference.

  model.py train --out DIR [--seed N] [--batch-rows N]
      Trains the issue's model (XGBoost binary classifier, 100 trees, depth 6,
      30 features, on generated data with a fixed seed), saves it with
      mlflow.xgboost.save_model (signature and input example) to DIR/model, and
      writes the request bodies and the predictions they must get.
  model.py inplace --out DIR --seconds S --threads N
      In-process XGBoost Booster.inplace_predict on the same 1000-row batch, for
      S seconds: the reference limit for rows/s. Prints one JSON line.

Run by run.py with the main python3 (mlflow 3.17.2, xgboost 3.2.0).
"""

import argparse
import json
import os
import sys
import threading
import time

N_FEATURES = 30
N_TREES = 100
DEPTH = 6
TRAIN_ROWS = 20_000


def num(x):
    """A float32 as short JSON text that still reads as a float (never `1`, which
    a schema-enforcing server may take for an integer column)."""
    s = "%.7g" % x
    return s if ("." in s or "e" in s or "n" in s) else s + ".0"


def dataframe_split(cols, rows):
    data = ",".join("[" + ",".join(num(v) for v in r) + "]" for r in rows)
    return ('{"dataframe_split":{"columns":[' + ",".join(f'"{c}"' for c in cols) +
            '],"data":[' + data + "]}}")


def v2_infer(rows):
    """Open Inference Protocol v2 body (what MLServer's xgboost runtime takes)."""
    flat = ",".join(num(v) for r in rows for v in r)
    return ('{"inputs":[{"name":"input-0","shape":[%d,%d],"datatype":"FP32","data":[%s]}]}'
            % (len(rows), len(rows[0]), flat))


def train(out, seed, batch_rows):
    import numpy as np
    import pandas as pd
    import xgboost as xgb
    import mlflow.xgboost
    from mlflow.models import infer_signature

    rng = np.random.default_rng(seed)
    cols = [f"f{i}" for i in range(N_FEATURES)]
    X = rng.normal(size=(TRAIN_ROWS, N_FEATURES)).astype(np.float32)
    w = rng.normal(size=N_FEATURES)
    y = ((X @ w + 0.5 * np.sin(3 * X[:, 0]) * X[:, 1] +
          rng.normal(scale=0.5, size=TRAIN_ROWS)) > 0).astype(int)
    df = pd.DataFrame(X, columns=cols)
    t = time.time()
    clf = xgb.XGBClassifier(n_estimators=N_TREES, max_depth=DEPTH, learning_rate=0.1,
                            tree_method="hist", n_jobs=os.cpu_count(), random_state=seed)
    clf.fit(df, y)
    train_s = time.time() - t
    mdir = os.path.join(out, "model")
    if os.path.exists(mdir):
        import shutil
        shutil.rmtree(mdir)
    sig = infer_signature(df.head(5), clf.predict(df.head(5)))
    mlflow.xgboost.save_model(clf, mdir, signature=sig, input_example=df.head(1))

    # Request rows: fresh draws, not training rows. The bodies carry 7
    # significant digits; the expected predictions are computed from the
    # values as the servers read them back from the text.
    Q = rng.normal(size=(batch_rows, N_FEATURES)).astype(np.float32)
    Q = np.array(json.loads(dataframe_split(cols, Q))["dataframe_split"]["data"], dtype=np.float32)
    bodies = {
        "split-1.json": dataframe_split(cols, Q[:1]),
        f"split-{batch_rows}.json": dataframe_split(cols, Q),
        "v2-1.json": v2_infer(Q[:1]),
        f"v2-{batch_rows}.json": v2_infer(Q),
    }
    for name, text in bodies.items():
        with open(os.path.join(out, name), "w") as f:
            f.write(text)
    # The same rows as one FP32 tensor in the binary tensor extension of OIP
    # v2 (what tritonclient.http sends with binary_data=True): a JSON header,
    # then the raw little-endian floats.
    header = json.dumps({"inputs": [{"name": "input-0", "shape": list(Q.shape),
                                     "datatype": "FP32",
                                     "parameters": {"binary_data_size": Q.nbytes}}]}).encode()
    with open(os.path.join(out, f"v2bin-{batch_rows}.bin"), "wb") as f:
        f.write(header + Q.astype("<f4").tobytes())
    qdf = pd.DataFrame(Q, columns=cols)
    expected = dict(labels=[int(v) for v in clf.predict(qdf)],
                    proba=[float(v) for v in clf.predict_proba(qdf)[:, 1]])
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f)
    np.save(os.path.join(out, "batch.npy"), Q)
    booster = clf.get_booster()
    meta = dict(seed=seed, batch_rows=batch_rows, train_rows=TRAIN_ROWS, features=N_FEATURES,
                trees=N_TREES, depth=DEPTH, train_s=round(train_s, 1),
                boosted_rounds=booster.num_boosted_rounds(),
                model_file=sorted(f for f in os.listdir(mdir) if f.startswith("model."))[0],
                body_bytes={k: len(v) for k, v in bodies.items()},
                v2bin_header_bytes=len(header),
                xgboost=xgb.__version__, mlflow=mlflow.__version__)
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta))


def inplace(out, seconds, threads):
    """rows/s of Booster.inplace_predict over the 1000-row batch: (1) one caller
    with nthread=threads, (2) `threads` callers with nthread=1 each (it releases
    the GIL), and single-row calls/s with nthread=1 for reference."""
    import numpy as np
    import xgboost as xgb

    with open(os.path.join(out, "meta.json")) as f:
        meta = json.load(f)
    Q = np.load(os.path.join(out, "batch.npy"))
    with open(os.path.join(out, "expected.json")) as f:
        expected = json.load(f)

    def booster(nthread):
        b = xgb.Booster(model_file=os.path.join(out, "model", meta["model_file"]))
        b.set_param({"nthread": nthread})
        return b

    b = booster(threads)
    p = b.inplace_predict(Q)
    err = float(np.max(np.abs(p - np.array(expected["proba"]))))
    res = dict(xgboost=xgb.__version__, threads=threads, batch_rows=len(Q),
               max_abs_diff_vs_expected=err)

    def loop(bst, X, until, counter, idx):
        n = 0
        while time.perf_counter() < until:
            bst.inplace_predict(X)
            n += 1
        counter[idx] = n

    for _ in range(20):  # warm-up
        b.inplace_predict(Q)
    c = [0]
    t = time.perf_counter()
    loop(b, Q, t + seconds, c, 0)
    res["one_caller_rows_per_s"] = c[0] * len(Q) / (time.perf_counter() - t)

    bs = [booster(1) for _ in range(threads)]
    c = [0] * threads
    t = time.perf_counter()
    ts = [threading.Thread(target=loop, args=(bs[i], Q, t + seconds, c, i))
          for i in range(threads)]
    for x in ts:
        x.start()
    for x in ts:
        x.join()
    res["callers_rows_per_s"] = sum(c) * len(Q) / (time.perf_counter() - t)
    res["rows_per_s"] = max(res["one_caller_rows_per_s"], res["callers_rows_per_s"])

    one = Q[:1]
    c = [0]
    t = time.perf_counter()
    loop(bs[0], one, t + min(seconds, 3), c, 0)
    res["single_row_calls_per_s"] = c[0] / (time.perf_counter() - t)
    print(json.dumps(res))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--out", required=True)
    t.add_argument("--seed", type=int, default=20261206)
    t.add_argument("--batch-rows", type=int, default=1000)
    i = sub.add_parser("inplace")
    i.add_argument("--out", required=True)
    i.add_argument("--seconds", type=float, default=5)
    i.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    if a.cmd == "train":
        train(a.out, a.seed, a.batch_rows)
    else:
        inplace(a.out, a.seconds, a.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
