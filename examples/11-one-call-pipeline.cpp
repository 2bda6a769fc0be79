// 11-one-call-pipeline: the Node backpressure guide's program (read a file, gzip it, write it,
// report the outcome) as one call. run_pipeline() makes the loop, runs the pipeline to its end
// and returns the first real error with the stage that failed, e.g. "Pipeline failed: stage 1
// (archive.tar): open 'archive.tar': No such file or directory".
#include <cstdio>
#include <sluice/codec/gzip.hpp>
#include <sluice/compose/run_pipeline.hpp>
#include <sluice/io/file.hpp>
#include <string>
#include <tuple>

int main() {
  const auto err = sluice::run_pipeline([](sluice::loop& loop) {
    return std::tuple{sluice::make_file_reader(loop, "archive.tar"), sluice::make_gzip(loop),
                      sluice::make_file_writer(loop, "archive.tar.gz")};
  });
  std::puts(err ? ("Pipeline failed: " + err.message()).c_str() : "Pipeline succeeded.");
  return err ? 1 : 0;
}
