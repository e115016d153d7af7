// The memory planner's model shape from the runtime's parsed Hugging Face config.json
// (workers/model-config.h), so that `t2 plan` and the runtime read the same numbers.
#pragma once

#include <string>

#include "coordinator/memory-plan.h"
#include "workers/model-config.h"

namespace t2 {

ModelShape model_shape_from_config(const ModelConfig& config, const std::string& name);

// MODEL_DIR/config.json (or the config.json file itself); FormatError/UsageError name the file.
ModelShape model_shape_from_path(const std::string& model_dir_or_config);

}  // namespace t2
