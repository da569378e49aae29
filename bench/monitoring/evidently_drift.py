"""The Evidently side of bench/monitoring/run.py, run in its own process (and venv) so that
its peak memory is its own: read both CSV files with pandas, run a Report with
DataDriftPreset, and write per column the method, value, threshold and decision, plus the
times of the read and of the report, as JSON.

Usage: python evidently_drift.py REF.csv CUR.csv OUT.json
"""

import json
import sys
import time

import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset


def main():
    ref_path, cur_path, out_path = sys.argv[1:4]
    t0 = time.perf_counter()
    ref = pd.read_csv(ref_path)
    cur = pd.read_csv(cur_path)
    t1 = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
    result = snapshot.dict()
    t2 = time.perf_counter()
    columns = {}
    for metric in result["metrics"]:
        config = metric["config"]
        if not config["type"].endswith("ValueDrift"):
            continue
        value = float(metric["value"])
        # Distances drift at value >= threshold; p-value tests below it.
        p_value = "p_value" in config["method"] or "test" in config["method"].lower()
        threshold = float(config["threshold"])
        columns[config["column"]] = {
            "method": config["method"],
            "value": value,
            "threshold": threshold,
            "drifted": value < threshold if p_value else value >= threshold,
        }
    with open(out_path, "w") as f:
        json.dump({"read_s": t1 - t0, "report_s": t2 - t1, "columns": columns}, f, indent=1)


if __name__ == "__main__":
    main()
