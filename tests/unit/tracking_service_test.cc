#include "tracking/tracking_service.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "store/sqlite_tracking_store.h"
#include "test_util/metric_points.h"

namespace slipway::tracking {
namespace {

using slipway::testing::Point;

class TrackingServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("slipway-service-test-" + std::to_string(::getpid()) + ".db");
    std::filesystem::remove(path_);
    store_ = store::SqliteTrackingStore::Open(path_.string());
    service_ = std::make_unique<TrackingService>(*store_, TrackingService::Options{});
  }
  void TearDown() override {
    service_.reset();
    store_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(path_.string() + suffix);
    }
  }

  std::string ErrorOf(const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& error) {
      return std::string(ErrorCodeName(error.code())) + ": " + error.what();
    }
    return "no error";
  }

  std::filesystem::path path_;
  std::unique_ptr<store::SqliteTrackingStore> store_;
  std::unique_ptr<TrackingService> service_;
};

TEST_F(TrackingServiceTest, DefaultExperimentExists) {
  Experiment experiment = service_->GetExperiment("0");
  EXPECT_EQ(experiment.name, "Default");
  EXPECT_EQ(experiment.artifact_location, "mlflow-artifacts:/0");
}

TEST_F(TrackingServiceTest, RunGetsNameTagAndArtifactUri) {
  std::string experiment = service_->CreateExperiment("e", "", {});
  tracking::Run run = service_->CreateRun({experiment, "alice", 5, "", {}});
  EXPECT_FALSE(run.info.run_name.empty());
  EXPECT_EQ(run.info.user_id, "alice");
  EXPECT_EQ(run.info.artifact_uri,
            "mlflow-artifacts:/" + experiment + "/" + run.info.run_id + "/artifacts");
  ASSERT_EQ(run.tags.size(), 1u);
  EXPECT_EQ(run.tags[0].key, "mlflow.runName");
  EXPECT_EQ(run.tags[0].value, run.info.run_name);
}

TEST_F(TrackingServiceTest, BatchLimitsAndNamesAreEnforced) {
  std::string experiment = service_->CreateExperiment("e", "", {});
  std::string run = service_->CreateRun({experiment, "", std::nullopt, "r", {}}).info.run_id;
  RunWrites too_many;
  too_many.metrics.resize(1001, Point("m", 1, 1, 0));
  EXPECT_NE(ErrorOf([&] { service_->LogBatch(run, too_many); })
                .find("INVALID_PARAMETER_VALUE: A batch logging request can contain at most "
                      "1000 metrics. Got 1001 metrics."),
            std::string::npos);
  RunWrites params;
  params.params.resize(101, Param{"p", "v"});
  EXPECT_NE(ErrorOf([&] { service_->LogBatch(run, params); }).find("at most 100 params"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] {
              service_->LogMetric(run, Point(std::string(251, 'k'), 1, 1, 0));
            }).find("exceeds the maximum length of 250"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] {
              service_->LogParam(run, {"bad*name", "v"});
            }).find("Names may only contain"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] {
              service_->LogParam(run, {"../escape", "v"});
            }).find("must not resolve to other names"),
            std::string::npos);
  EXPECT_EQ(ErrorOf([&] { service_->LogParam(run, {"ok/name: 1", "v"}); }), "no error");
}

TEST_F(TrackingServiceTest, UnknownIdsAreNotFound) {
  EXPECT_NE(ErrorOf([&] { service_->GetRun("nope"); }).find("RESOURCE_DOES_NOT_EXIST"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { service_->GetExperiment("12345"); }).find("RESOURCE_DOES_NOT_EXIST"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] {
              service_->LogMetric("nope", Point("m", 1, 1, 0));
            }).find("RESOURCE_DOES_NOT_EXIST"),
            std::string::npos);
}

TEST_F(TrackingServiceTest, UpdateRunValidatesStatus) {
  std::string experiment = service_->CreateExperiment("e", "", {});
  std::string run = service_->CreateRun({experiment, "", std::nullopt, "r", {}}).info.run_id;
  RunUpdate update;
  update.status = "DONE";
  EXPECT_NE(ErrorOf([&] { service_->UpdateRun(run, update); }).find("INVALID_PARAMETER_VALUE"),
            std::string::npos);
  update.status = "FINISHED";
  update.end_time = 99;
  RunInfo info = service_->UpdateRun(run, update);
  EXPECT_EQ(info.status, "FINISHED");
  EXPECT_EQ(info.end_time, 99);
}

TEST(ExperimentIdTest, OnlyTheCanonicalSpellingNamesAnExperiment) {
  EXPECT_EQ(ParseExperimentId("0"), 0);
  EXPECT_EQ(ParseExperimentId("2"), 2);
  EXPECT_EQ(ParseExperimentId("9223372036854775807"), INT64_MAX);
  for (const char* other :
       {"02", "00", "+2", "-2", " 2", "2 ", "2.0", "0x2", "", "2a", "9223372036854775808", "١"}) {
    EXPECT_EQ(ParseExperimentId(other), std::nullopt) << other;
  }
  EXPECT_EQ(CanonicalExperimentId("17"), "17");
  try {
    CanonicalExperimentId("02");
    FAIL() << "02 was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kResourceDoesNotExist);
  }
}

TEST_F(TrackingServiceTest, OtherSpellingsOfAnExperimentIdReachNothing) {
  std::string id = service_->CreateExperiment("spelled", "", {});
  std::string run = service_->CreateRun({id, "", std::nullopt, "r", {}}).info.run_id;
  for (const std::string& other : {"0" + id, "+" + id, " " + id, id + ".0", id + " "}) {
    EXPECT_NE(ErrorOf([&] { service_->GetExperiment(other); }).find("RESOURCE_DOES_NOT_EXIST"),
              std::string::npos)
        << other;
    EXPECT_NE(ErrorOf([&] {
                service_->CreateRun({other, "", std::nullopt, "r", {}});
              }).find("RESOURCE_DOES_NOT_EXIST"),
              std::string::npos)
        << other;
    EXPECT_NE(ErrorOf([&] {
                service_->SearchRuns({id, other}, "", ViewType::kAll, 10, {}, "");
              }).find("RESOURCE_DOES_NOT_EXIST"),
              std::string::npos)
        << other;
  }
  EXPECT_EQ(service_->SearchRuns({id}, "", ViewType::kAll, 10, {}, "").items.size(), 1u);
  EXPECT_EQ(service_->GetRun(run).info.experiment_id, id);
}

TEST_F(TrackingServiceTest, ExperimentNamesRefuseControlAndBidiCharacters) {
  for (const std::string& bad :
       {std::string("a\0b", 3), std::string("tab\there"), std::string("del\x7f"),
        std::string("c1\xc2\x85"), std::string("rlo\xe2\x80\xae") + "gpj.exe",
        std::string("lrm\xe2\x80\x8e"), std::string("isolate\xe2\x81\xa6"),
        std::string("bad utf8 \xff")}) {
    std::string error = ErrorOf([&] { service_->CreateExperiment(bad, "", {}); });
    EXPECT_NE(error.find("INVALID_PARAMETER_VALUE"), std::string::npos) << error;
    EXPECT_NE(error.find("'name'"), std::string::npos) << error;
  }
  std::string id = service_->CreateExperiment("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac", "", {});
  std::string error =
      ErrorOf([&] { service_->RenameExperiment(id, std::string("x\xe2\x80\xaey")); });
  EXPECT_NE(error.find("'new_name'"), std::string::npos) << error;
  EXPECT_NE(error.find("U+202E"), std::string::npos) << error;
}

TEST_F(TrackingServiceTest, ArtifactLocationsStayUnderTheRootOrRemote) {
  for (const char* bad : {"/etc",
                          "/tmp/x",
                          "relative/dir",
                          "file:///etc",
                          "file:/etc",
                          "mlflow-artifacts:/../..",
                          "mlflow-artifacts:/7/../../etc",
                          "mlflow-artifacts:/7/%2e%2e/%2E%2E",
                          "mlflow-artifacts:/%252e%252e/x",
                          "mlflow-artifacts:/./x",
                          "mlflow-artifacts:",
                          "mlflow-artifacts:/",
                          "mlflow-artifacts://evil.example/x",
                          "https://evil.example/a",
                          "http://evil.example/a",
                          "ftp://h/x",
                          "runs:/abc/x",
                          "models:/m/1",
                          "s3://bucket/../x",
                          "s3:///nobucket",
                          "s3://b/x?y=1",
                          "mlflow-artifacts:/a\\b",
                          "mlflow-artifacts:/a%00b"}) {
    std::string error = ErrorOf([&] { service_->CreateExperiment(bad, bad, {}); });
    EXPECT_NE(error.find("INVALID_PARAMETER_VALUE"), std::string::npos) << bad << ": " << error;
    EXPECT_NE(error.find("'artifact_location'"), std::string::npos) << bad << ": " << error;
  }
  for (const char* good :
       {"mlflow-artifacts:/team-a/exp", "mlflow-artifacts:/x..y/z", "s3://bucket/prefix",
        "gs://bucket/p", "wasbs://c@acct.blob/p", "abfss://c@acct.dfs/p", "hdfs://namenode/p"}) {
    std::string id = service_->CreateExperiment(good, good, {});
    EXPECT_EQ(service_->GetExperiment(id).artifact_location, good);
  }
  std::string id = service_->CreateExperiment("default-location", "", {});
  EXPECT_EQ(service_->GetExperiment(id).artifact_location, "mlflow-artifacts:/" + id);
}

}  // namespace
}  // namespace slipway::tracking
