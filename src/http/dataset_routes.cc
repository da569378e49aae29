#include "http/dataset_routes.h"

#include <unistd.h>

#include <filesystem>
#include <unordered_set>

#include "core/error.h"
#include "core/sha256.h"
#include "data/dataset_diff.h"
#include "data/object_bundle.h"
#include "data/rules.h"
#include "http/json_codec.h"
#include "http/route_helpers.h"

namespace slipway::http {
namespace {

constexpr const char* kBase = "/api/v1/datasets";
// A chunk is at most 256 KiB; a manifest lists ~40 bytes per chunk, so this
// bounds a single file at ~400 GB.
constexpr size_t kMaxObjectBytes = size_t{256} << 20;
constexpr size_t kMaxFetchObjects = 4096;
// A bundle (object_bundle.h) in either direction holds at most this much:
// room for the largest object, or for many objects, with their headers.
constexpr size_t kMaxBundleBytes = kMaxObjectBytes + kMaxFetchObjects * 96;

// The objects of the version named by the request's `dataset` ("name@v"):
// objects are read only through a version that holds them.
std::unordered_set<std::string> ObjectsOfRequestedVersion(data::DatasetService& datasets,
                                                          const RequestFields& fields,
                                                          std::string* shown) {
  data::DatasetVersion v =
      datasets.Resolve(data::ParseDatasetRef(fields.RequiredString("dataset")));
  *shown = v.name + "@" + std::to_string(v.version);
  std::vector<std::string> objects = datasets.ObjectsOf(v);
  return {objects.begin(), objects.end()};
}

void RequireObjectOf(const std::unordered_set<std::string>& objects, const std::string& digest,
                     const std::string& shown) {
  if (!objects.count(digest)) {
    ThrowNotFound("Object " + digest + " is not part of " + shown + ".");
  }
}

// Reads a streamed request body of at most `limit` bytes; 413 beyond.
std::string ReadBody(const BodyReader& reader, size_t limit, const char* what) {
  std::string bytes;
  bool too_large = false;
  reader([&](const char* data, size_t length) {
    if (bytes.size() + length > limit) {
      too_large = true;
      return false;
    }
    bytes.append(data, length);
    return true;
  });
  if (too_large) {
    throw Error(ErrorCode::kPayloadTooLarge,
                std::string(what) + " larger than " + std::to_string(limit) + " bytes.");
  }
  return bytes;
}

Json SummaryJson(const data::DatasetSummary& summary) {
  return {{"name", summary.name},
          {"latest_version", summary.latest_version},
          {"version_count", summary.version_count},
          {"created_ms", summary.created_ms},
          {"updated_ms", summary.updated_ms}};
}

data::DatasetRef RefOf(const Request& req) {
  std::string version = req.matches[2];
  return data::ParseDatasetRef(req.matches[1] + (version == "latest" ? "" : "@" + version));
}

}  // namespace

Json DatasetVersionJson(const data::DatasetVersion& v, bool with_profile) {
  Json out = {{"name", v.name},
              {"version", v.version},
              {"manifest_digest", v.manifest_digest},
              {"content_digest", v.content_digest},
              {"kind", v.kind},
              {"format", v.format},
              {"size_bytes", v.size_bytes},
              {"row_count", v.row_count},
              {"column_count", v.column_count},
              {"source", v.source},
              {"description", v.description},
              {"created_by", v.created_by},
              {"created_ms", v.created_ms}};
  if (with_profile) {
    out["profile"] = v.profile_json.empty() ? Json(nullptr) : Json::parse(v.profile_json);
  }
  return out;
}

void AddDatasetRoutes(HttpServer& server, data::DatasetService& datasets) {
  const std::string base = kBase;
  const std::string version = base + "/([^/]+)/versions/([^/]+)";
  server.Get(base, RouteSpec("datasets/list").SignedIn(),
             [&datasets](const Request&, Response& res) {
               Json list = Json::array();
               for (const auto& summary : datasets.List()) list.push_back(SummaryJson(summary));
               Reply(res, {{"datasets", std::move(list)}});
             });
  server.Get(base + "/([^/]+)/versions", RouteSpec("datasets/versions").Needs(kDataset, kRead),
             [&datasets](const Request& req, Response& res) {
               std::string name = req.matches[1];
               Json list = Json::array();
               for (const auto& v : datasets.Versions(name)) {
                 list.push_back(DatasetVersionJson(v, false));
               }
               Reply(res, {{"versions", std::move(list)}});
             });
  server.Get(
      version, RouteSpec("datasets/version").Needs(kDataset, kRead),
      [&datasets](const Request& req, Response& res) {
        bool with_profile = req.get_param_value("profile") != "false";
        Reply(res, {{"version", DatasetVersionJson(datasets.Resolve(RefOf(req)), with_profile)}});
      });
  server.Get(version + "/manifest", RouteSpec("datasets/manifest").Needs(kDataset, kRead),
             [&datasets](const Request& req, Response& res) {
               Reply(res, data::ManifestToJson(datasets.ManifestOf(datasets.Resolve(RefOf(req)))));
             });
  server.Get(version + "/objects", RouteSpec("datasets/objects-of").Needs(kDataset, kRead),
             [&datasets](const Request& req, Response& res) {
               Reply(res, {{"objects", datasets.ObjectsOf(datasets.Resolve(RefOf(req)))}});
             });
  server.Post(base + "/([^/]+)/versions", RouteSpec("datasets/import").Needs(kDataset, kEdit),
              [&datasets](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                data::DatasetVersion v;
                v.name = req.matches[1];
                v.version = fields.RequiredInt("version");
                v.manifest_digest = fields.RequiredString("manifest_digest");
                v.content_digest = fields.RequiredString("content_digest");
                v.format = fields.OptionalString("format");
                v.row_count = fields.OptionalInt("row_count").value_or(-1);
                v.column_count = fields.OptionalInt("column_count").value_or(-1);
                v.source = fields.OptionalString("source");
                v.description = fields.OptionalString("description");
                v.created_ms = fields.OptionalInt("created_ms").value_or(0);
                v.created_by = governance::CurrentActorName();  // who pushed it here
                auto profile = body.find("profile");
                if (profile != body.end() && !profile->is_null()) {
                  if (!profile->is_object()) ThrowInvalid("'profile' must be a JSON object.");
                  v.profile_json = profile->dump();
                }
                bool created = false;
                data::DatasetVersion stored = datasets.Import(std::move(v), &created);
                Reply(res, {{"version", DatasetVersionJson(stored, false)}, {"created", created}});
              });

  server.Post(version + "/validate",
              RouteSpec("datasets/validate").Needs(kDataset, kRead).ReadOnly(),
              [&datasets](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                data::DatasetVersion v = datasets.Resolve(RefOf(req));
                data::ValidationReport report =
                    datasets.Validate(v, data::ParseRules(fields.RequiredString("rules"), "rules"),
                                      fields.OptionalString("reference"));
                Json out = report.ToJson();
                out["dataset"] = v.name + "@" + std::to_string(v.version);
                out["content_digest"] = v.content_digest;
                Reply(res, out);
              });
  server.Get(version + "/diff", RouteSpec("datasets/diff").Needs(kDataset, kRead),
             [&datasets](const Request& req, Response& res) {
               data::DatasetVersion a = datasets.Resolve(RefOf(req));
               if (!req.has_param("other"))
                 ThrowInvalid("Missing value for required parameter 'other'.");
               data::DatasetVersion b =
                   datasets.Resolve(data::ParseDatasetRef(req.get_param_value("other")));
               Reply(res, data::Diff(datasets.ProfileOf(a), datasets.ProfileOf(b)).ToJson());
             });
  server.Get(version + "/rules", RouteSpec("datasets/infer-rules").Needs(kDataset, kRead),
             [&datasets](const Request& req, Response& res) {
               data::Rules rules = datasets.InferRulesFor(datasets.Resolve(RefOf(req)));
               res.set_content(data::ToYaml(rules), "application/yaml");
             });

  // Content-addressed objects, for push and pull.
  server.Post(base + "/objects/missing",
              RouteSpec("datasets/objects-missing").Needs(kDataset, kEdit).ReadOnly(),
              [&datasets](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                std::vector<std::string> digests = fields.StringList("digests");
                for (const std::string& digest : digests) {
                  if (!data::IsValidDigest(digest)) {
                    ThrowInvalid("Invalid object digest '" + digest +
                                 "': expected 64 lowercase hex digits.");
                  }
                }
                // Asked for the dataset being pushed, whose permission it checks.
                Reply(res, {{"missing",
                             datasets.MissingObjects(fields.RequiredString("dataset"), digests)}});
              });
  // Many objects per request: PUT a bundle, POST for a bundle of digests.
  server.PutStream(base + "/objects/bundle",
                   RouteSpec("datasets/objects-put-bundle").SignedIn().BodyLimit(kMaxBundleBytes),
                   [&datasets](const Request&, Response& res, const BodyReader& reader) {
                     std::string body = ReadBody(reader, kMaxBundleBytes, "Bundle");
                     std::vector<data::BundleObject> objects = data::ParseBundle(body);
                     data::ContentStore::ObjectWriter writer(&datasets.content());
                     for (size_t i = 0; i < objects.size(); ++i) {
                       writer.Put(
                           objects[i].digest, objects[i].bytes,
                           "object " + std::to_string(i + 1) + " of the bundle (nothing stored)");
                     }
                     data::AddStats stats = writer.Commit();
                     Reply(res, {{"objects", objects.size()},
                                 {"new_objects", stats.chunks_new},
                                 {"new_bytes", stats.bytes_new}});
                   });
  server.Post(base + "/objects/fetch", RouteSpec("datasets/objects-fetch").Needs(kDataset, kRead),
              [&datasets](const Request& req, Response& res) {
                Json body = RequestJson(req);
                RequestFields fields(body);
                std::vector<std::string> digests = fields.StringList("digests");
                std::string shown;
                std::unordered_set<std::string> objects =
                    ObjectsOfRequestedVersion(datasets, fields, &shown);
                if (digests.size() > kMaxFetchObjects) {
                  ThrowInvalid("Too many digests (" + std::to_string(digests.size()) +
                               "): ask for at most " + std::to_string(kMaxFetchObjects) +
                               " objects per request.");
                }
                std::string bundle;
                for (const std::string& digest : digests) {
                  RequireObjectOf(objects, digest, shown);
                  std::string bytes = datasets.content().ReadBlob(digest);
                  if (bundle.size() + bytes.size() > kMaxBundleBytes) {
                    ThrowInvalid("The objects asked for exceed " + std::to_string(kMaxBundleBytes) +
                                 " bytes: ask for fewer per request.");
                  }
                  data::AppendToBundle(&bundle, digest, bytes);
                }
                res.set_content(std::move(bundle), "application/octet-stream");
              });
  server.Get(
      base + "/objects/([0-9a-f]{64})", RouteSpec("datasets/object-get").Needs(kDataset, kRead),
      [&datasets](const Request& req, Response& res) {
        Json query = RequestJson(req);
        std::string shown;
        RequireObjectOf(ObjectsOfRequestedVersion(datasets, RequestFields(query), &shown),
                        req.matches[1], shown);
        res.set_content(datasets.content().ReadBlob(req.matches[1]), "application/octet-stream");
      });
  server.PutStream(
      base + "/objects/([^/]+)",
      RouteSpec("datasets/object-put").SignedIn().BodyLimit(kMaxObjectBytes),
      [&datasets](const Request& req, Response& res, const BodyReader& reader) {
        std::string digest = req.matches[1];
        if (!data::IsValidDigest(digest)) {
          ThrowInvalid("Invalid object digest '" + digest + "': expected 64 lowercase hex digits.");
        }
        std::string bytes = ReadBody(reader, kMaxObjectBytes, "Object");
        if (Sha256::Hex(bytes) != digest) {
          ThrowInvalid("The uploaded bytes hash to " + Sha256::Hex(bytes) + ", not " + digest +
                       ": nothing stored.");
        }
        datasets.content().PutBlob(bytes);
        Reply(res, {{"digest", digest}, {"size", bytes.size()}});
      });
}

}  // namespace slipway::http
