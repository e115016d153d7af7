// How each record of run-records.h is laid out in an HDF5 file (see docs/results-schema.md). Used by
// the writer (RunStore) and the readers (RunReader); nothing else needs it.
#pragma once

#include "results/hdf5-file.h"
#include "results/run-records.h"

namespace t2::results::codec {

void write_meta(h5::File& f, const RunMeta& m);
RunMeta read_meta(const h5::File& f);

void write_job(h5::File& f, const JobInfo& j);
JobInfo read_job(const h5::File& f);

void write_eval_batch(h5::File& f, const std::string& job_id, const EvalBatch& b);
EvalBatch read_eval_batch(const h5::File& f);

void write_metrics(h5::File& f, const std::string& job_id, const Metrics& m);
Metrics read_metrics(const h5::File& f);

void write_checkpoint(h5::File& f, const std::string& job_id, const CheckpointState& s);
CheckpointState read_checkpoint(const h5::File& f, bool with_arrays = true);
TrainingCurve read_curve(const h5::Group& g);

void write_cem_generation(h5::File& f, const std::string& job_id, const CemGeneration& c);
CemGeneration read_cem_generation(const h5::File& f);

// Checks the file's schema_version attribute (FormatError naming the file when newer than this t2
// or absent) and its kind ("t2-run", "t2-job", "t2-eval-batch", ...).
void check_header(const h5::File& f, const std::string& kind);

}  // namespace t2::results::codec
