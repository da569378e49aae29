// Which Python runs a model's workers: the current environment, or the
// model's own virtual environment built from its requirements.
//
// With env_manager "virtualenv" Slipway does what `mlflow models serve
// --env-manager virtualenv` does: it creates a venv (`python -m venv`) and
// pip-installs the model's `python_env.yaml` build dependencies and
// dependencies (usually `-r requirements.txt`) into it. Environments are kept
// in a cache folder under a name made from a SHA-256 of the interpreter and
// those files, so every model with the same requirements shares one, and the
// second load finds it ready. A lock file serialises builders of the same
// environment (threads and processes); a build that fails or is interrupted
// leaves no ready marker and is redone. Unlike MLflow, Slipway does not
// install another Python version with pyenv: the venv uses
// PythonOptions::python, and a different `python:` in python_env.yaml is
// logged as a warning.
#pragma once

#include <filesystem>
#include <string>

#include "ml/mlmodel.h"
#include "ml/python_model.h"

namespace slipway::ml {

// The interpreter for `mlmodel`'s workers under `options`: options.python for
// "local", the cached environment's bin/python for "virtualenv" (built first
// when missing). Throws slipway::Error: INVALID_PARAMETER_VALUE for an
// unknown env_manager or a model without requirements, INTERNAL_ERROR when
// the environment cannot be built (pip's output is in the log).
std::string PythonInterpreterFor(const MlModel& mlmodel, const PythonOptions& options);

// The cache folder used when PythonOptions::env_cache_dir is empty:
// $XDG_CACHE_HOME/slipway/python_envs, else ~/.cache/slipway/python_envs.
std::filesystem::path DefaultPythonEnvCache();

}  // namespace slipway::ml
