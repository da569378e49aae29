#include "ml/mlmodel.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "ml/model_loader.h"

namespace slipway::ml {
namespace {

namespace fs = std::filesystem;

class MlModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("mlmodel_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& text) { std::ofstream(dir_ / "MLmodel") << text; }

  fs::path dir_;
};

// What mlflow.xgboost.log_model writes (MLflow 3.17), trimmed.
constexpr const char* kXgboostMlmodel = R"(artifact_path: model
flavors:
  python_function:
    data: model.xgb
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.xgboost
    python_version: 3.11.2
  xgboost:
    code: null
    data: model.xgb
    model_class: xgboost.sklearn.XGBClassifier
    model_format: xgb
    xgb_version: 3.2.0
mlflow_version: 3.17.2
model_uuid: 5f0c1e
run_id: 0123abcd
saved_input_example_info:
  artifact_path: input_example.json
  pandas_orient: split
  type: dataframe
signature:
  inputs: '[{"type": "double", "name": "f0", "required": true}, {"type": "long", "name": "f1", "required": true}, {"type": "string", "name": "note", "required": false}]'
  outputs: '[{"type": "long", "required": true}]'
  params: null
)";

TEST_F(MlModelTest, ReadsWhatMlflowWrites) {
  Write(kXgboostMlmodel);
  MlModel model = MlModel::Read(dir_);
  ASSERT_NE(model.Flavor("xgboost"), nullptr);
  EXPECT_EQ((*model.Flavor("xgboost"))["model_class"], "xgboost.sklearn.XGBClassifier");
  EXPECT_TRUE((*model.Flavor("xgboost"))["code"].is_null());
  EXPECT_EQ(model.FlavorFile("xgboost"), dir_ / "model.xgb");
  EXPECT_EQ(model.run_id, "0123abcd");
  EXPECT_EQ(model.input_example_path, "input_example.json");
  ASSERT_TRUE(model.signature.has_value());
  ASSERT_EQ(model.signature->inputs.columns.size(), 3u);
  EXPECT_EQ(model.signature->inputs.columns[1].name, "f1");
  EXPECT_EQ(model.signature->inputs.columns[1].type, DataType::kLong);
  EXPECT_FALSE(model.signature->inputs.columns[2].required);
  EXPECT_EQ(model.signature->outputs.columns.front().type, DataType::kLong);
}

TEST_F(MlModelTest, SaysWhereTheFileIsWrong) {
  Write("flavors:\n  xgboost: {data: model.xgb\n");
  try {
    MlModel::Read(dir_);
    FAIL() << "accepted broken YAML";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("line "), std::string::npos) << e.what();
  }
  Write("flavors:\n  xgboost:\n    data: ../../etc/passwd\n");
  MlModel escaping = MlModel::Read(dir_);
  EXPECT_THROW(escaping.FlavorFile("xgboost"), Error);
  fs::remove(dir_ / "MLmodel");
  EXPECT_THROW(MlModel::Read(dir_), Error);
}

TEST_F(MlModelTest, NoServableFlavorIsExplained) {
  Write("flavors:\n  h2o:\n    data: model.h2o\n");
  try {
    LoadModel(dir_, LoadOptions{});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidParameterValue);
    EXPECT_NE(std::string(e.what()).find("h2o"), std::string::npos);
  }
}

Column Numbers(std::string name, DataType type, std::vector<double> values) {
  Column column;
  column.name = std::move(name);
  column.type = type;
  column.numbers = std::move(values);
  return column;
}

Schema Columns() {
  Schema schema;
  schema.columns = {{"f0", DataType::kDouble, true},
                    {"f1", DataType::kLong, true},
                    {"note", DataType::kString, false}};
  return schema;
}

TEST(ConformToSchemaTest, OrdersByNameWidensIntegersDropsExtras) {
  Frame frame;
  frame.rows = 2;
  frame.columns.push_back(Numbers("extra", DataType::kDouble, {9, 9}));
  frame.columns.push_back(Numbers("f1", DataType::kLong, {1, 2}));
  frame.columns.push_back(Numbers("f0", DataType::kLong, {3, 4}));
  Frame out = ConformToSchema(Columns(), frame);
  ASSERT_EQ(out.columns.size(), 2u);
  EXPECT_EQ(out.columns[0].name, "f0");
  EXPECT_EQ(out.columns[0].type, DataType::kDouble);
  EXPECT_EQ(out.columns[0].numbers, (std::vector<double>{3, 4}));
  EXPECT_EQ(out.columns[1].name, "f1");
}

TEST(ConformToSchemaTest, NamesTheColumnThatIsWrong) {
  Frame missing;
  missing.rows = 1;
  missing.columns.push_back(Numbers("f0", DataType::kDouble, {1}));
  try {
    ConformToSchema(Columns(), missing);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'f1'"), std::string::npos) << e.what();
  }
  Frame narrowing;
  narrowing.rows = 1;
  narrowing.columns.push_back(Numbers("f0", DataType::kDouble, {1}));
  narrowing.columns.push_back(Numbers("f1", DataType::kDouble, {1.5}));
  try {
    ConformToSchema(Columns(), narrowing);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'f1' must be of type long"), std::string::npos)
        << e.what();
  }
}

TEST(ConformToSchemaTest, UnpacksATensorIntoTheSchemasColumns) {
  Schema schema;
  schema.columns = {{"a", DataType::kDouble, true}, {"b", DataType::kDouble, true}};
  Frame frame;
  frame.rows = 2;
  Column tensor = Numbers("input__0", DataType::kFloat, {1, 2, 3, 4});
  tensor.width = 2;
  frame.columns.push_back(tensor);
  Frame out = ConformToSchema(schema, frame);
  ASSERT_EQ(out.columns.size(), 2u);
  EXPECT_EQ(out.columns[0].name, "a");
  EXPECT_EQ(out.columns[0].numbers, (std::vector<double>{1, 3}));
  EXPECT_EQ(out.columns[1].numbers, (std::vector<double>{2, 4}));
}

TEST(ConformToSchemaTest, PacksColumnsIntoATensorAndChecksItsWidth) {
  Schema schema;
  schema.tensors = {{"", DataType::kFloat, {-1, 2}}};
  Frame frame;
  frame.rows = 2;
  frame.columns.push_back(Numbers("a", DataType::kDouble, {1, 2}));
  frame.columns.push_back(Numbers("b", DataType::kDouble, {3, 4}));
  Frame out = ConformToSchema(schema, frame);
  ASSERT_EQ(out.columns.size(), 1u);
  EXPECT_EQ(out.columns[0].width, 2u);
  EXPECT_EQ(out.columns[0].numbers, (std::vector<double>{1, 3, 2, 4}));
  frame.columns.push_back(Numbers("c", DataType::kDouble, {5, 6}));
  EXPECT_THROW(ConformToSchema(schema, frame), Error);
}

}  // namespace
}  // namespace slipway::ml
