// sluice/core/make.hpp: streams built from lambdas (Node's simplified construction,
// `new Writable({ write(chunk, enc, cb) { ... } })`).
//
//   auto w = sluice::make_writable<int>(loop, {
//       .high_water_mark = 4,
//       .write = [](sluice::writable<int>&, int&& x, auto cb) { use(x); cb(); }});
//
// Each spec struct holds the stream's options followed by optional hooks; a hook left empty
// behaves like the corresponding virtual's default. Every hook gets the stream as its first
// argument (Node's `this`), so a read hook can push().
#pragma once

#include <concepts>
#include <functional>
#include <memory>
#include <vector>

#include "sluice/core/duplex.hpp"
#include "sluice/core/readable.hpp"
#include "sluice/core/transform.hpp"
#include "sluice/core/writable.hpp"

namespace sluice {

template <chunk T>
struct writable_spec {
  using write_callback = typename writable<T>::write_callback;
  std::optional<std::size_t> high_water_mark{};
  bool auto_destroy = true;
  bool emit_close = true;
  std::string name{};
  overflow_policy overflow = overflow_policy::wait;  ///< writable_options::overflow
  std::optional<std::size_t> max_buffered{};         ///< writable_options::max_buffered
  std::function<void(writable<T>&, T&&, write_callback)> write{};
  std::function<void(writable<T>&, std::vector<T>&, write_callback)> writev{};
  std::function<void(writable<T>&, callback)> final{};
  std::function<void(writable<T>&, std::error_code, callback)> destroy{};
  std::function<void(writable<T>&, callback)> construct{};
};

template <chunk T>
struct readable_spec {
  std::optional<std::size_t> high_water_mark{};
  bool auto_destroy = true;
  bool emit_close = true;
  std::string name{};
  std::function<void(readable<T>&, std::size_t)> read{};
  std::function<void(readable<T>&, std::error_code, callback)> destroy{};
  std::function<void(readable<T>&, callback)> construct{};
};

template <chunk In, chunk Out = In>
struct transform_spec {
  using transform_callback = typename transform<In, Out>::transform_callback;
  std::optional<std::size_t> readable_high_water_mark{};
  std::optional<std::size_t> writable_high_water_mark{};
  bool allow_half_open = true;
  bool auto_destroy = true;
  bool emit_close = true;
  std::string name{};
  std::function<void(sluice::transform<In, Out>&, In&&, transform_callback)> transform{};
  std::function<void(sluice::transform<In, Out>&, callback)> flush{};
  std::function<void(sluice::transform<In, Out>&, std::error_code, callback)> destroy{};
  std::function<void(sluice::transform<In, Out>&, callback)> construct{};
};

template <chunk In, chunk Out>
struct duplex_spec {
  using write_callback = typename writable<In>::write_callback;
  std::optional<std::size_t> readable_high_water_mark{};
  std::optional<std::size_t> writable_high_water_mark{};
  bool allow_half_open = true;
  bool auto_destroy = true;
  bool emit_close = true;
  std::string name{};
  std::function<void(duplex<In, Out>&, std::size_t)> read{};
  std::function<void(duplex<In, Out>&, In&&, write_callback)> write{};
  std::function<void(duplex<In, Out>&, std::vector<In>&, write_callback)> writev{};
  std::function<void(duplex<In, Out>&, callback)> final{};
  std::function<void(duplex<In, Out>&, std::error_code, callback)> destroy{};
  std::function<void(duplex<In, Out>&, callback)> construct{};
};

namespace detail {

// Shared by the lambda streams: destroy and construct hooks.
#define SLUICE_LAMBDA_LIFECYCLE(Self)                         \
 protected:                                                   \
  void do_destroy(std::error_code ec, callback cb) override { \
    if (spec_.destroy)                                        \
      spec_.destroy(*this, ec, std::move(cb));                \
    else                                                      \
      cb(ec);                                                 \
  }                                                           \
  void do_construct(callback cb) override { spec_.construct(*this, std::move(cb)); }

template <chunk T>
class lambda_writable final : public writable<T> {
 public:
  lambda_writable(loop& l, writable_spec<T> s)
      : writable<T>(l, {s.high_water_mark, s.auto_destroy, s.emit_close, s.name, s.overflow,
                        s.max_buffered}),
        spec_(std::move(s)) {
    if (spec_.construct) this->use_construct();
  }
  SLUICE_LAMBDA_LIFECYCLE(lambda_writable)
  void do_write(T&& chunk, typename writable<T>::write_callback cb) override {
    if (spec_.write)
      spec_.write(*this, std::move(chunk), cb);
    else
      writable<T>::do_write(std::move(chunk), cb);
  }
  bool do_writev(std::vector<T>& chunks, typename writable<T>::write_callback cb) override {
    if (!spec_.writev) return false;
    spec_.writev(*this, chunks, cb);
    return true;
  }
  typename writable<T>::run_outcome do_write_run(T* items, std::size_t n) override {
    if (!spec_.write) return writable<T>::do_write_run(items, n);
    return this->run_each(items, n, [this](T&& x, typename writable<T>::write_callback cb) {
      spec_.write(*this, std::move(x), cb);
    });
  }
  void do_final(callback cb) override {
    if (spec_.final)
      spec_.final(*this, std::move(cb));
    else
      writable<T>::do_final(std::move(cb));
  }

 private:
  writable_spec<T> spec_;
};

template <chunk T>
class lambda_readable final : public readable<T> {
 public:
  lambda_readable(loop& l, readable_spec<T> s)
      : readable<T>(l, {s.high_water_mark, s.auto_destroy, s.emit_close, s.name}),
        spec_(std::move(s)) {
    if (spec_.construct) this->use_construct();
  }
  SLUICE_LAMBDA_LIFECYCLE(lambda_readable)
  void do_read(std::size_t n) override {
    if (spec_.read)
      spec_.read(*this, n);
    else
      readable<T>::do_read(n);
  }

 private:
  readable_spec<T> spec_;
};

template <chunk In, chunk Out>
class lambda_transform final : public transform<In, Out> {
 public:
  lambda_transform(loop& l, transform_spec<In, Out> s)
      : transform<In, Out>(l, {s.readable_high_water_mark, s.writable_high_water_mark,
                               s.allow_half_open, s.auto_destroy, s.emit_close, s.name}),
        spec_(std::move(s)) {
    if (spec_.construct) this->use_construct();
  }
  SLUICE_LAMBDA_LIFECYCLE(lambda_transform)
  // A per-item function: skipping one item leaves the next intact (skip_item_errors()).
  [[nodiscard]] bool items_independent() const noexcept override { return true; }
  void do_transform(In&& chunk, typename transform<In, Out>::transform_callback cb) override {
    if (spec_.transform)
      spec_.transform(*this, std::move(chunk), cb);
    else
      cb(make_error_code(errc::method_not_implemented));
  }
  typename writable<In>::run_outcome do_write_run(In* items, std::size_t n) override {
    if (!spec_.transform) return transform<In, Out>::do_write_run(items, n);
    return this->transform_each(items, n,
                                [this](In&& x, typename transform<In, Out>::transform_callback cb) {
                                  spec_.transform(*this, std::move(x), cb);
                                });
  }
  void do_flush(callback cb) override {
    if (spec_.flush)
      spec_.flush(*this, std::move(cb));
    else
      cb({});
  }

 private:
  transform_spec<In, Out> spec_;
};

template <chunk In, chunk Out>
class lambda_duplex final : public duplex<In, Out> {
 public:
  lambda_duplex(loop& l, duplex_spec<In, Out> s)
      : duplex<In, Out>(l, {s.readable_high_water_mark, s.writable_high_water_mark,
                            s.allow_half_open, s.auto_destroy, s.emit_close, s.name}),
        spec_(std::move(s)) {
    if (spec_.construct) this->use_construct();
  }
  SLUICE_LAMBDA_LIFECYCLE(lambda_duplex)
  void do_read(std::size_t n) override {
    if (spec_.read)
      spec_.read(*this, n);
    else
      readable<Out>::do_read(n);
  }
  void do_write(In&& chunk, typename writable<In>::write_callback cb) override {
    if (spec_.write)
      spec_.write(*this, std::move(chunk), cb);
    else
      writable<In>::do_write(std::move(chunk), cb);
  }
  bool do_writev(std::vector<In>& chunks, typename writable<In>::write_callback cb) override {
    if (!spec_.writev) return false;
    spec_.writev(*this, chunks, cb);
    return true;
  }
  void do_final(callback cb) override {
    if (spec_.final)
      spec_.final(*this, std::move(cb));
    else
      writable<In>::do_final(std::move(cb));
  }

 private:
  duplex_spec<In, Out> spec_;
};

#undef SLUICE_LAMBDA_LIFECYCLE

// The typed forms: one hook, kept with its own type, so the stream's loops call it directly.
template <chunk T, class Read>
class fn_readable final : public readable<T> {
 public:
  fn_readable(loop& l, const readable_options& o, Read r)
      : readable<T>(l, o), read_(std::move(r)) {}

 protected:
  void do_read(std::size_t n) override { read_(static_cast<readable<T>&>(*this), n); }

 private:
  Read read_;
};

template <chunk In, chunk Out, class Fn>
class fn_transform final : public transform<In, Out> {
  using base = transform<In, Out>;

 public:
  fn_transform(loop& l, const transform_options& o, Fn f) : base(l, o), fn_(std::move(f)) {}
  [[nodiscard]] bool items_independent() const noexcept override { return true; }

 protected:
  void do_transform(In&& chunk, typename base::transform_callback cb) override {
    fn_(static_cast<base&>(*this), std::move(chunk), cb);
  }
  typename writable<In>::run_outcome do_write_run(In* items, std::size_t n) override {
    return this->transform_each(items, n, [this](In&& x, typename base::transform_callback cb) {
      fn_(static_cast<base&>(*this), std::move(x), cb);
    });
  }

 private:
  Fn fn_;
};

template <chunk T, class Write>
class fn_writable final : public writable<T> {
 public:
  fn_writable(loop& l, const writable_options& o, Write w)
      : writable<T>(l, o), write_(std::move(w)) {}

 protected:
  void do_write(T&& chunk, typename writable<T>::write_callback cb) override {
    write_(static_cast<writable<T>&>(*this), std::move(chunk), cb);
  }
  typename writable<T>::run_outcome do_write_run(T* items, std::size_t n) override {
    return this->run_each(items, n, [this](T&& x, typename writable<T>::write_callback cb) {
      write_(static_cast<writable<T>&>(*this), std::move(x), cb);
    });
  }

 private:
  Write write_;
};

}  // namespace detail

template <chunk T>
[[nodiscard]] std::shared_ptr<writable<T>> make_writable(loop& l, writable_spec<T> spec) {
  return std::make_shared<detail::lambda_writable<T>>(l, std::move(spec));
}

template <chunk T>
[[nodiscard]] std::shared_ptr<readable<T>> make_readable(loop& l, readable_spec<T> spec) {
  return std::make_shared<detail::lambda_readable<T>>(l, std::move(spec));
}

template <chunk In, chunk Out = In>
[[nodiscard]] std::shared_ptr<transform<In, Out>> make_transform(loop& l,
                                                                 transform_spec<In, Out> spec) {
  return std::make_shared<detail::lambda_transform<In, Out>>(l, std::move(spec));
}

template <chunk In, chunk Out>
[[nodiscard]] std::shared_ptr<duplex<In, Out>> make_duplex(loop& l, duplex_spec<In, Out> spec) {
  return std::make_shared<detail::lambda_duplex<In, Out>>(l, std::move(spec));
}

/// Typed forms: the one hook a stream needs, as any callable, with options. The callable keeps
/// its own type (no std::function), so the compiler can inline it into the stream's data path:
/// for a pipeline of small per-item functions this is several times faster than the spec
/// forms. Semantics are the spec forms' (`read(readable<T>&, std::size_t)`,
/// `fn(transform<In, Out>&, In&&, transform_callback)`,
/// `write(writable<T>&, T&&, write_callback)`).
///
///   auto add1 = sluice::make_transform<int>(loop, {.name = "add 1"},
///                                           [](auto&, int&& x, auto cb) { cb(x + 1); });
template <chunk T, class Read>
requires std::invocable < Read&, readable<T>
&, std::size_t > [[nodiscard]] std::shared_ptr<readable<T>> make_readable(loop& l,
                                                                          readable_options o,
                                                                          Read read) {
  return std::make_shared<detail::fn_readable<T, Read>>(l, o, std::move(read));
}

template <chunk In, chunk Out = In, class Fn>
requires std::invocable < Fn&, transform<In, Out>
&, In&&,
    typename transform<In, Out>::transform_callback >
        [[nodiscard]] std::shared_ptr<transform<In, Out>> make_transform(loop& l,
                                                                         transform_options o,
                                                                         Fn fn) {
  return std::make_shared<detail::fn_transform<In, Out, Fn>>(l, o, std::move(fn));
}

template <chunk T, class Write>
requires std::invocable < Write&, writable<T>
&, T&&,
    typename writable<T>::write_callback >
        [[nodiscard]] std::shared_ptr<writable<T>> make_writable(loop& l, writable_options o,
                                                                 Write write) {
  return std::make_shared<detail::fn_writable<T, Write>>(l, o, std::move(write));
}

}  // namespace sluice
