// MLflow 3's GenAI evaluation REST API under /api/3.0/mlflow (and
// /ajax-api/3.0): evaluation datasets and their records, issues, registered
// scorers.
//
// Each handler reads MLflow's request form, calls the service, and writes
// MLflow's reply form (tags, records, schema and profile travel as JSON
// text inside the JSON, as MLflow's protos carry them). No domain rules live
// here.
#pragma once

#include "genai/evaluation_dataset_service.h"
#include "genai/issue_service.h"
#include "genai/scorer_service.h"
#include "http/http_server.h"

namespace slipway::http {

// The services must outlive the server.
void AddGenaiRoutes(HttpServer& server, genai::EvaluationDatasetService& datasets,
                    genai::IssueService& issues, genai::ScorerService& scorers);

}  // namespace slipway::http
