// The loop's retrains as `slipway train` in a child process: the same
// command a person runs, so a retrain behaves (and is tracked, gated and
// registered) exactly as a manual one, and a crash or a runaway spec cannot
// take the server down.
//
// For each run, in `<work_dir>/<deployment>/<run id>/`: spec.yaml (the
// policy's spec text), train.log (the child's stdout and stderr) and
// result.json (`slipway train --result-file`). The child runs
//
//   slipway train spec.yaml --data-dir DATA_DIR --store URI --datasets DIR --data DATA
//       --tracking-uri URI --experiment EXPERIMENT-DEP --run-name loop-DEP-ID
//       --set register.alias=ALIAS (or --no-alias) --tag slipway.loop.*=...
//       --result-file result.json
//
// at a lower priority (nice 10) than the server's own threads, with
// MLFLOW_TRACKING_TOKEN set to a token made for the policy's owner when
// access control is on (revoked when the child ends), so the child's
// requests are checked and audited as theirs. A child that runs longer than
// `timeout` is killed.
#pragma once

#include <chrono>
#include <string>

#include "governance/access_control.h"
#include "loop/loop_service.h"

namespace slipway::loop {

class ProcessRetrainer : public Retrainer {
 public:
  struct Options {
    std::string binary;                       // the slipway executable
    std::string tracking_uri;                 // the server's own address
    std::string data_dir;                     // the server's data folder (datasets)
    std::string store;                        // the server's metadata store URI
    std::string datasets;                     // the server's dataset content folder
    std::string work_dir;                     // per-run folders
    std::string experiment = "slipway-loop";  // each deployment's: "<this>-<deployment>"
    std::chrono::seconds timeout{2 * 3600};
    governance::AccessControl* access = nullptr;  // null without --auth
  };

  explicit ProcessRetrainer(Options options) : options_(std::move(options)) {}

  RetrainResult Retrain(const RetrainRequest& request) override;

 private:
  const Options options_;
};

}  // namespace slipway::loop
