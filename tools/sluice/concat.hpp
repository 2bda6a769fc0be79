// tools/sluice/concat.hpp: concat_reader, several files read one after another as one stream
// (`sluice cat a b c`, `read a b c` in `sluice run`).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "sluice/core/buffer.hpp"
#include "sluice/core/readable.hpp"
#include "sluice/io/file.hpp"

namespace sluice::cli {

/// A readable<buffer> delivering the bytes of each file in turn. Each file is opened only when
/// the previous one has been read to its end, so at most one is open at a time. A file that
/// cannot be opened or read fails the stream with that file's error ("open 'b': No such file or
/// directory"). Create it with std::make_shared.
class concat_reader final : public readable<buffer> {
 public:
  concat_reader(sluice::loop& l, std::vector<std::string> paths);

  /// Index of the file being read (paths().size() once all are done).
  [[nodiscard]] std::size_t current() const noexcept { return next_ == 0 ? 0 : next_ - 1; }
  [[nodiscard]] const std::vector<std::string>& paths() const noexcept { return paths_; }

 protected:
  void do_read(std::size_t size) override;
  void do_destroy(std::error_code ec, callback cb) override;

 private:
  void open_next();
  void pump();

  std::vector<std::string> paths_;
  std::size_t next_ = 0;
  std::shared_ptr<file_reader> cur_;
  bool wanted_ = false;  // do_read asked for data that has not been pushed yet
};

}  // namespace sluice::cli
