#include "http/loop_routes.h"

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/error.h"
#include "http/json_codec.h"
#include "http/route_helpers.h"

namespace slipway::http {
namespace {

using governance::Permission;
using governance::ResourceType;
using loop::LoopPolicy;
using loop::LoopRun;

Json PolicyJson(const LoopPolicy& p) {
  return {{"deployment", p.deployment},
          {"on", p.triggers},
          {"spec", p.spec},
          {"spec_name", p.spec_name},
          {"data", p.data},
          {"promote", p.promote},
          {"approval", p.manual_approval ? "manual" : "auto"},
          {"cooldown_seconds", p.cooldown_seconds},
          {"max_per_day", p.max_per_day},
          {"min_rows", p.min_rows},
          {"owner", p.owner},
          {"creation_time", p.created_ms},
          {"last_updated_time", p.updated_ms}};
}

Json RunJson(const LoopRun& r) {
  Json cause = Json::parse(r.cause.empty() ? "{}" : r.cause, nullptr, false);
  if (cause.is_discarded()) cause = r.cause;
  // Lineage kept as JSON text: objects in the reply, null when absent.
  auto object = [](const std::string& text) {
    Json value = text.empty() ? Json() : Json::parse(text, nullptr, false);
    return value.is_discarded() ? Json(text) : value;
  };
  return {{"id", r.id},
          {"deployment", r.deployment},
          {"trigger", r.trigger},
          {"cause", cause},
          {"requested_by", r.requested_by},
          {"state", std::string(loop::LoopRunStateName(r.state))},
          {"reason", r.reason},
          {"creation_time", r.created_ms},
          {"start_time", r.started_ms},
          {"end_time", r.finished_ms},
          {"data", r.data},
          {"run_id", r.run_id},
          {"model", r.model},
          {"version", r.version},
          {"alias", r.alias},
          {"decided_by", r.decided_by},
          {"window", object(r.window)},
          {"windows", object(r.windows)}};
}

Json RunsJson(const std::vector<LoopRun>& runs) {
  Json items = Json::array();
  for (const LoopRun& r : runs) items.push_back(RunJson(r));
  return items;
}

int64_t RunId(const std::string& text) {
  if (text.empty() || text.size() > 18 ||
      text.find_first_not_of("0123456789") != std::string::npos || text[0] == '0') {
    throw Error(ErrorCode::kInvalidParameterValue, "'" + text + "' is not a loop run id");
  }
  return std::stoll(text);
}

LoopPolicy PolicyOf(const std::string& deployment, const Json& body) {
  RequestFields fields(body);
  LoopPolicy policy;
  policy.deployment = deployment;
  policy.triggers = fields.StringList("on");
  policy.spec = fields.RequiredString("spec");
  policy.spec_name = fields.OptionalString("spec_name");
  policy.data = fields.OptionalString("data");
  policy.promote = fields.OptionalString("promote");
  const std::string approval = fields.OptionalString("approval", "auto");
  if (approval != "auto" && approval != "manual") {
    throw Error(ErrorCode::kInvalidParameterValue,
                "approval: '" + approval + "' is not auto or manual");
  }
  policy.manual_approval = approval == "manual";
  policy.cooldown_seconds = fields.OptionalInt("cooldown_seconds").value_or(3600);
  policy.max_per_day = fields.OptionalInt("max_per_day").value_or(3);
  policy.min_rows = fields.OptionalInt("min_rows").value_or(100);
  return policy;
}

}  // namespace

void AddLoopRoutes(HttpServer& server, loop::LoopService& loops) {
  const std::string api = "/api/v1/deployments/([^/]+)/loop";
  server.Put(api, RouteSpec("loop/set").Needs(kDeployment, Permission::kManage),
             [&loops](const Request& req, Response& res) {
               const LoopPolicy policy = PolicyOf(req.matches[1], RequestJson(req));
               Reply(res, {{"policy", PolicyJson(loops.SetPolicy(policy))}});
             });
  server.Get(api, RouteSpec("loop/get").Needs(kDeployment, Permission::kRead),
             [&loops](const Request& req, Response& res) {
               const LoopPolicy policy = loops.GetPolicy(req.matches[1]);
               Reply(res, {{"policy", PolicyJson(policy)},
                           {"runs", RunsJson(loops.Runs(req.matches[1], 20))}});
             });
  server.Delete(api, RouteSpec("loop/delete").Needs(kDeployment, Permission::kManage),
                [&loops](const Request& req, Response& res) {
                  loops.DeletePolicy(req.matches[1]);
                  Reply(res, Json::object());
                });
  server.Post(api + "/trigger", RouteSpec("loop/trigger").Needs(kDeployment, Permission::kEdit),
              [&loops](const Request& req, Response& res) {
                const Json body = RequestJson(req);
                const std::string why = RequestFields(body).OptionalString("reason");
                Reply(res, {{"run", RunJson(loops.Trigger(req.matches[1], why))}});
              });
  server.Get(api + "/runs", RouteSpec("loop/runs").Needs(kDeployment, Permission::kRead),
             [&loops](const Request& req, Response& res) {
               const Json query = RequestJson(req);
               const int64_t limit = RequestFields(query).OptionalInt("max_results").value_or(100);
               Reply(res, {{"runs", RunsJson(loops.Runs(req.matches[1], limit))}});
             });
  server.Get(api + "/runs/([^/]+)", RouteSpec("loop/run").Needs(kDeployment, Permission::kRead),
             [&loops](const Request& req, Response& res) {
               Reply(res, {{"run", RunJson(loops.GetRun(req.matches[1], RunId(req.matches[2])))}});
             });
  server.Post(
      api + "/runs/([^/]+)/approve",
      RouteSpec("loop/approve").Needs(kDeployment, Permission::kManage),
      [&loops](const Request& req, Response& res) {
        Reply(res, {{"run", RunJson(loops.Approve(req.matches[1], RunId(req.matches[2])))}});
      });
  server.Post(
      api + "/runs/([^/]+)/reject",
      RouteSpec("loop/reject").Needs(kDeployment, Permission::kManage),
      [&loops](const Request& req, Response& res) {
        const Json body = RequestJson(req);
        const std::string why = RequestFields(body).OptionalString("reason");
        Reply(res, {{"run", RunJson(loops.Reject(req.matches[1], RunId(req.matches[2]), why))}});
      });
}

}  // namespace slipway::http
