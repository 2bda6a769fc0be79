// The lifecycle every stream shares: construct, destroy, 'error' and 'close' exactly once.
#include "sluice/core/stream.hpp"

#include "sluice/core/writable.hpp"

#include <string>

namespace sluice {

namespace {
std::size_t default_hwm_bytes = 64 * 1024;
std::size_t default_hwm_objects = 16;
}  // namespace

std::size_t default_high_water_mark(stream_mode mode) noexcept {
  return mode == stream_mode::bytes ? default_hwm_bytes : default_hwm_objects;
}

void set_default_high_water_mark(stream_mode mode, std::size_t value) {
  if (value > max_high_water_mark)
    throw std::system_error(make_error_code(errc::invalid_argument),
                            "default high_water_mark " + std::to_string(value) +
                                " exceeds the maximum of " + std::to_string(max_high_water_mark));
  (mode == stream_mode::bytes ? default_hwm_bytes : default_hwm_objects) = value;
}

std::size_t detail::resolve_high_water_mark(std::optional<std::size_t> requested, stream_mode mode,
                                            const char* what) {
  if (!requested) return default_high_water_mark(mode);
  if (*requested > max_high_water_mark)
    throw std::system_error(make_error_code(errc::invalid_argument),
                            std::string(what) + " " + std::to_string(*requested) +
                                " exceeds the maximum of " + std::to_string(max_high_water_mark));
  return *requested;
}

std::size_t detail::resolve_max_buffered(overflow_policy p, std::optional<std::size_t> max_buffered,
                                         std::size_t hwm) {
  if (p == overflow_policy::wait) {
    if (max_buffered)
      throw std::system_error(make_error_code(errc::invalid_argument),
                              "max_buffered needs an overflow policy other than wait");
    return SIZE_MAX;
  }
  if (!max_buffered) return hwm;
  if (*max_buffered < hwm)
    throw std::system_error(make_error_code(errc::invalid_argument),
                            "max_buffered " + std::to_string(*max_buffered) +
                                " is below the high_water_mark " + std::to_string(hwm));
  return *max_buffered;
}

void stream::bind(sluice::loop& l, const stream_options& opts) {
  loop_ = &l;
  name_ = opts.name;
  auto_destroy_ = opts.auto_destroy;
  emit_close_ = opts.emit_close;
}

stream::~stream() = default;

listener_id stream::on_error(std::function<void(std::error_code)> fn) {
  const listener_id id = next_listener_id();
  error_signal_.connect(id, std::move(fn));
  return id;
}

listener_id stream::prepend_on_error(std::function<void(std::error_code)> fn) {
  const listener_id id = next_listener_id();
  error_signal_.connect(id, std::move(fn), false, true);
  return id;
}

listener_id stream::on_close(std::function<void()> fn) {
  const listener_id id = next_listener_id();
  close_signal_.connect(id, std::move(fn));
  return id;
}

bool stream::off(listener_id id) {
  return error_signal_.disconnect(id) || close_signal_.disconnect(id);
}

void stream::do_destroy(std::error_code ec, callback cb) { cb(ec); }

void stream::do_construct(callback cb) { cb({}); }

void stream::use_construct() {
  if (!constructed()) return;  // already pending
  state_ |= state_constructing;
  // Called from a constructor, before any shared_ptr owns us: hold a token instead of `this`.
  construct_token_ = std::make_shared<char>();
  loop_->defer([this, token = std::weak_ptr<char>(construct_token_)] {
    if (token.expired()) return;  // the stream is gone
    auto self = shared_from_this();
    do_construct([self, this](std::error_code ec) {
      if (construct_called_) {
        error_or_destroy(ec ? ec : make_error_code(errc::multiple_callback));
        return;
      }
      construct_called_ = true;
      defer([this, ec] { on_constructed(ec); });
    });
  });
}

void stream::on_constructed(std::error_code ec) {
  state_ &= static_cast<std::uint8_t>(~state_constructing);
  if (destroyed()) {
    // destroy() came first and waited for us; finish it now, keeping the first error.
    std::error_code e = destroy_after_construct_ec_ ? destroy_after_construct_ec_ : ec;
    auto cbs = std::move(destroy_after_construct_cbs_);
    destroy_after_construct_ = false;
    callback all = [cbs = std::move(cbs)](std::error_code r) {
      for (const auto& c : cbs)
        if (c) c(r);
    };
    start_destroy(e, std::move(all));
  } else if (ec) {
    error_or_destroy(ec, true);
  } else {
    writable_side_constructed();
    readable_side_constructed();
  }
}

void stream::destroy(std::error_code ec) { destroy(ec, nullptr); }

void stream::fail(std::error_code ec, std::string context) {
  if (ec && !errored_ && !destroyed()) error_context_ = std::move(context);
  destroy(ec);
}

std::string stream::error_message() const {
  if (!errored_) return {};
  if (error_context_.empty()) return errored_.message();
  return error_context_ + ": " + errored_.message();
}

void stream::destroy(std::error_code ec, callback cb) {
  if (destroyed()) {
    if (cb) cb({});
    return;
  }
  writable_side_destroying();
  set_errored(ec);
  state_ |= state_destroyed;
  if (!constructed()) {
    destroy_after_construct_ = true;
    destroy_after_construct_ec_ = ec;
    destroy_after_construct_cbs_.push_back(std::move(cb));
    return;
  }
  start_destroy(ec, std::move(cb));
}

void stream::start_destroy(std::error_code ec, callback cb) {
  auto called = std::make_shared<bool>(false);
  do_destroy(ec, [self = shared_from_this(), this, called, cb = std::move(cb)](std::error_code e) {
    if (*called) return;  // Node ignores a second destroy callback
    *called = true;
    on_destroyed(e, cb);
  });
}

void stream::on_destroyed(std::error_code ec, const callback& cb) {
  set_errored(ec);
  closed_ = true;
  if (cb) cb(ec);
  defer([this, ec] {
    if (ec) emit_error_now(ec);
    emit_close_now();
  });
  release_if_done();
}

void stream::hold_while_piped() {
  if (held_ || destroyed() || sides_done()) return;
  std::shared_ptr<stream> self = weak_from_this().lock();
  if (!self) return;
  held_ = true;
  loop_->hold(this, std::move(self));
}

void stream::release_if_done() {
  if (!held_ || !(closed_ || sides_done())) return;
  held_ = false;
  loop_->release(this);
}

void stream::emit_error_now(std::error_code ec) {
  if (error_emitted()) return;
  state_ |= state_error_emitted;
  error_signal_.emit(ec);
}

void stream::emit_close_now() {
  state_ |= state_close_emitted;
  if (emit_close_) close_signal_.emit();
  // Nothing can be emitted after 'close': drop listeners so their captures are released now.
  error_signal_.disconnect_all();
  close_signal_.disconnect_all();
}

void stream::error_or_destroy(std::error_code ec, bool sync) {
  if (destroyed()) return;
  if (auto_destroy_) {
    destroy(ec);
  } else if (ec) {
    set_errored(ec);
    if (sync)
      defer([this, ec] { emit_error_now(ec); });
    else
      emit_error_now(ec);
  }
}

}  // namespace sluice
