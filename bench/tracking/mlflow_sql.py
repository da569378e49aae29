"""Fill an `mlflow server` store (SQLite or PostgreSQL) directly, in MLflow's own schema.

Populating 100k runs through `mlflow server`'s REST API takes hours on this
machine, so the benchmark builds mlflow's store the fastest faithful way:

1. `SqlAlchemyStore` (mlflow's own store class) creates the database, runs the
   migrations, creates the experiment and logs the FIRST run through its public
   API (`create_run` + `log_batch`), so every table, default column and tag is
   exactly what mlflow itself writes.
2. The rows of that first run (runs, tags, params, metrics, latest_metrics) are
   read back as a template and copied for the other runs with raw `sqlite3`
   `executemany` (PostgreSQL: psycopg 3's, pipelined), substituting only
   run id, name, start time and the values.

The 1M-point metric is built the same way: one point through `log_batch`, the
rest copied from that row with new step/timestamp/value, and `latest_metrics`
updated to the last point as mlflow's store would.

This module needs the `mlflow` package (and `psycopg` 3 for a PostgreSQL
store); it is imported only for the mlflow anchor.
"""

import sys
import time
import uuid


class _Db:
    """Raw row access to mlflow's tables, the same for SQLite and PostgreSQL."""

    def __init__(self, store_uri):
        if store_uri.startswith("sqlite:///"):
            import sqlite3
            self.pg = False
            self.conn = sqlite3.connect(store_uri[len("sqlite:///"):])
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.mark = "?"
        elif store_uri.startswith(("postgresql://", "postgres://")):
            import psycopg  # psycopg 3: what SQLAlchemy 2.1 (mlflow's) uses for postgresql://
            self.pg = True
            self.conn = psycopg.connect(store_uri)
            self.mark = "%s"
        else:
            raise ValueError(f"unsupported store URI {store_uri}")

    def execute(self, sql, params=()):
        cur = self.conn.cursor()
        cur.execute(sql.replace("?", self.mark), params)
        return cur

    def rows(self, table, run_uuid):
        cur = self.execute(f"SELECT * FROM {table} WHERE run_uuid = ?", (run_uuid,))
        cols = [d[0] for d in cur.description]
        return cols, [dict(zip(cols, r)) for r in cur.fetchall()]

    def insert_many(self, table, cols, rows):
        values = [tuple(r[c] for c in cols) for r in rows]
        marks = ",".join([self.mark] * len(cols))
        sql = f"INSERT INTO {table} ({','.join(cols)}) VALUES ({marks})"
        # psycopg 3 sends the rows of executemany in one pipeline.
        self.conn.cursor().executemany(sql, values)

    def commit(self):
        self.conn.commit()

    def close(self):
        self.conn.close()


def populate(store_uri, artifact_root, runs, history_points, log=print):
    """Create experiments 'bench-search' (runs x {rmse, alpha, l1_ratio}) and
    'bench-history' (one run with `history_points` points of metric 'loss').

    `store_uri` is mlflow's `--backend-store-uri` (sqlite:///PATH or
    postgresql://...); `runs` is the list produced by run.make_runs(). Returns
    (search_experiment_id, history_run_id)."""
    from mlflow.entities import Metric, Param
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    t0 = time.time()
    store = SqlAlchemyStore(store_uri, artifact_root)
    exp_id = store.create_experiment("bench-search")
    hist_exp_id = store.create_experiment("bench-history")

    first = runs[0]
    r0 = store.create_run(exp_id, user_id="bench", start_time=first["start_time"], tags=[],
                          run_name=first["name"])
    rid0 = r0.info.run_id
    store.log_batch(rid0,
                    metrics=[Metric("rmse", first["rmse"], first["start_time"], 0)],
                    params=[Param(k, v) for k, v in first["params"].items()],
                    tags=[])

    h = store.create_run(hist_exp_id, user_id="bench", start_time=1700000000000, tags=[],
                         run_name="history")
    hist_rid = h.info.run_id
    if history_points > 0:
        store.log_batch(hist_rid, metrics=[Metric("loss", 0.0, 1700000000000, 0)], params=[],
                        tags=[])
    store.engine.dispose()
    log(f"  mlflow store: schema + template run via SqlAlchemyStore ({time.time() - t0:.1f}s)")

    db = _Db(store_uri)
    tables = {}
    for t in ("runs", "tags", "params", "metrics", "latest_metrics"):
        tables[t] = db.rows(t, rid0)
    db.commit()
    run_cols, (run_t,) = tables["runs"]
    tag_cols, tag_t = tables["tags"]
    param_cols, param_t = tables["params"]
    met_cols, (met_t,) = tables["metrics"]
    lat_cols, (lat_t,) = tables["latest_metrics"]

    t1 = time.time()
    chunk = 20000
    for lo in range(1, len(runs), chunk):
        batch = runs[lo:lo + chunk]
        run_rows, tag_rows, param_rows, met_rows, lat_rows = [], [], [], [], []
        for r in batch:
            rid = uuid.uuid4().hex
            rr = dict(run_t)
            rr["run_uuid"] = rid
            rr["name"] = r["name"]
            rr["start_time"] = r["start_time"]
            if rr.get("artifact_uri"):
                rr["artifact_uri"] = rr["artifact_uri"].replace(rid0, rid)
            run_rows.append(rr)
            for t in tag_t:
                tt = dict(t)
                tt["run_uuid"] = rid
                if tt["key"] == "mlflow.runName":
                    tt["value"] = r["name"]
                tag_rows.append(tt)
            for p in param_t:
                pp = dict(p)
                pp["run_uuid"] = rid
                pp["value"] = r["params"][pp["key"]]
                param_rows.append(pp)
            for tmpl, out in ((met_t, met_rows), (lat_t, lat_rows)):
                m = dict(tmpl)
                m["run_uuid"] = rid
                m["value"] = r["rmse"]
                m["timestamp"] = r["start_time"]
                out.append(m)
        db.insert_many("runs", run_cols, run_rows)
        db.insert_many("tags", tag_cols, tag_rows)
        db.insert_many("params", param_cols, param_rows)
        db.insert_many("metrics", met_cols, met_rows)
        db.insert_many("latest_metrics", lat_cols, lat_rows)
        log(f"  mlflow store: {min(lo + chunk, len(runs))}/{len(runs)} runs")
    db.commit()
    log(f"  mlflow store: {len(runs)} runs copied in {time.time() - t1:.1f}s")

    if history_points > 1:
        t2 = time.time()
        hcols, (hrow,) = db.rows("metrics", hist_rid)
        chunk = 100000
        for lo in range(1, history_points, chunk):
            rows = []
            for step in range(lo, min(lo + chunk, history_points)):
                m = dict(hrow)
                m["step"] = step
                m["timestamp"] = 1700000000000 + step
                m["value"] = history_value(step)
                rows.append(m)
            db.insert_many("metrics", hcols, rows)
        last = history_points - 1
        db.execute("UPDATE latest_metrics SET step=?, timestamp=?, value=? "
                     "WHERE run_uuid=? AND key='loss'",
                     (last, 1700000000000 + last, history_value(last), hist_rid))
        db.commit()
        log(f"  mlflow store: {history_points} history points in {time.time() - t2:.1f}s")
    db.close()
    return str(exp_id), hist_rid


def history_value(step):
    """Deterministic value of the 1M-point metric at `step` (same for every server)."""
    return round(1.0 / (1.0 + step * 1e-3), 9)


if __name__ == "__main__":
    sys.exit("imported by run.py")
