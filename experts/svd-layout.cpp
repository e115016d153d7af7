#include "experts/svd-layout.h"

#include "core/check.h"
#include "core/error.h"
#include "core/files.h"
#include "experts/decompose.h"
#include "results/hdf5-file.h"

namespace t2 {

SvdLayout read_svd_layout(const std::string& svd_dir, int tp_size) {
  SvdLayout out;
  out.file = svd_shard_path(svd_dir, 0, tp_size);
  T2_CHECK_AS(UsageError, path_exists(out.file), "{}: no SVD shard file (run `t2 decompose` or the decompose job first)",
              out.file);
  auto f = h5::File::open(out.file);
  T2_CHECK_AS(FormatError, f.attr_string_or("format", "") == "t2-svd", "{}: not a t2 SVD file (format attribute '{}')",
              out.file, f.attr_string_or("format", ""));
  out.source_hash = f.attr_string("source_hash");
  out.modules = f.attr_string_or("modules", "");
  for (auto name : f.read_strings("names")) {
    auto S = f.shape("m/" + name + "/S");
    T2_CHECK_AS(FormatError, S.size() == 1, "{}: m/{}/S has rank {}; expected a vector", out.file, name, S.size());
    static const std::string suffix = ".weight";
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      name.resize(name.size() - suffix.size());
    out.layout.names.push_back(name);
    out.layout.sizes.push_back(static_cast<int64_t>(S[0]));
  }
  return out;
}

}  // namespace t2
