// `slipway loop`: the closed loop of a deployment on a running server
// (loop/loop_service.h, REST under /api/v1/deployments/NAME/loop):
//
//   slipway loop set churn --on drift_high,accuracy_low --train churn.yaml --promote production
//       [--data churn@latest] [--approval manual] [--cooldown 1h] [--max-per-day 3]
//   slipway loop show churn          the policy and its recent runs
//   slipway loop trigger churn       a retrain now (EDIT)
//   slipway loop approve churn RUN   move the alias to a pending run's version (MANAGE)
//   slipway loop reject churn RUN
//   slipway loop delete churn
//
// The spec file is read here and sent as text: the server keeps the text
// it was given.
#pragma once

namespace CLI {
class App;
}

namespace slipway::cli {

void AddLoopCommands(CLI::App& app);

}  // namespace slipway::cli
