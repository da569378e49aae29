"""BentoML service for bench/serving: the same XGBoost model file, MLflow's body.

`bentoml serve bento_service:XgbService` in its own venv (bentoml, xgboost,
pandas; no mlflow). The API is named `invocations` with one parameter
`dataframe_split`, so BentoML takes the very body mlflow's scoring server takes
(`{"dataframe_split": {"columns": [...], "data": [[...]]}}`) on POST
/invocations and answers `{"predictions": [...]}` (class labels, as mlflow's
pyfunc does for an XGBClassifier). The model is the file inside the MLflow
model folder, loaded with xgboost's scikit-learn class as mlflow.xgboost does.

Environment: BENCH_MODEL_FILE (path of model.ubj), BENCH_WORKERS (worker
processes, default 1).
"""

import os

import bentoml
import numpy as np
import pandas as pd
import xgboost as xgb


@bentoml.service(workers=int(os.environ.get("BENCH_WORKERS", "1")))
class XgbService:
    def __init__(self) -> None:
        self.model = xgb.XGBClassifier()
        self.model.load_model(os.environ["BENCH_MODEL_FILE"])

    @bentoml.api(route="/invocations")
    def invocations(self, dataframe_split: dict) -> dict:
        df = pd.DataFrame(np.asarray(dataframe_split["data"], dtype=np.float32),
                          columns=dataframe_split["columns"])
        return {"predictions": self.model.predict(df).tolist()}
