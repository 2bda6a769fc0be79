// tools/sluice/concat.cpp: concat_reader.
#include "concat.hpp"

namespace sluice::cli {

concat_reader::concat_reader(sluice::loop& l, std::vector<std::string> paths)
    : readable<buffer>(l, readable_options{}), paths_(std::move(paths)) {}

void concat_reader::do_read(std::size_t) {
  wanted_ = true;
  if (cur_)
    pump();
  else
    open_next();
}

void concat_reader::open_next() {
  if (next_ == paths_.size()) {
    push_eof();
    return;
  }
  const std::string& path = paths_[next_++];
  cur_ = make_file_reader(get_loop(), path, {.name = path, .fail_if_changed = true});
  // The inner reader may outlive us by a tick (its own deferred events): hold us weakly.
  std::weak_ptr<stream> weak = weak_from_this();
  auto me = [this, weak]() -> concat_reader* { return weak.expired() ? nullptr : this; };
  cur_->on_readable([me] {
    if (auto* self = me()) self->pump();
  });
  cur_->on_end([me] {
    auto* self = me();
    if (!self || self->destroyed()) return;
    self->cur_.reset();
    if (self->wanted_) self->open_next();
  });
  cur_->on_error([me, path](std::error_code ec) {
    auto* self = me();
    if (!self || self->destroyed()) return;
    std::string context = self->cur_ ? self->cur_->error_context() : std::string();
    if (context.empty()) context = "read '" + path + "'";
    self->fail(ec, std::move(context));
  });
}

void concat_reader::pump() {
  while (wanted_ && cur_ && !destroyed()) {
    auto chunk = cur_->read();
    if (!chunk) return;
    if (!push(std::move(*chunk))) wanted_ = false;
  }
}

void concat_reader::do_destroy(std::error_code ec, callback cb) {
  if (cur_) {
    cur_->destroy();
    cur_.reset();
  }
  cb(ec);
}

}  // namespace sluice::cli
