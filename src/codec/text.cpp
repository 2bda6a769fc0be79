// The text transforms: thin stream wrappers around the codecs of detail/text_codec.hpp.
#include "sluice/codec/text.hpp"

#include <utility>

namespace sluice {

namespace {

// Completes a transform with `out`, or with nothing when there is nothing to emit yet.
template <class Callback>
void emit_bytes(const Callback& cb, buffer out) {
  if (out.empty())
    cb();
  else
    cb(std::move(out));
}

}  // namespace

// ---- utf8_rechunker ----

utf8_rechunker::utf8_rechunker(sluice::loop& l, const transform_options& o)
    : transform<buffer, buffer>(l, o) {}

void utf8_rechunker::do_transform(buffer&& chunk, transform_callback cb) {
  // One output per input, as Node's StringDecoder does: flatten() copies only when a held
  // character was completed and more bytes follow it.
  emit_bytes(cb, boundary_.feed(std::move(chunk)).flatten());
}

void utf8_rechunker::do_flush(callback cb) {
  const buffer_list tail = boundary_.finish();
  if (!tail.empty()) push(tail.flatten());
  cb({});
}

// ---- utf8_decoder ----

utf8_decoder::utf8_decoder(sluice::loop& l, const transform_options& o)
    : transform<buffer, std::string>(l, o) {}

void utf8_decoder::do_transform(buffer&& chunk, transform_callback cb) {
  std::string text = boundary_.feed(std::move(chunk)).to_string();
  if (text.empty())
    cb();
  else
    cb(std::move(text));
}

void utf8_decoder::do_flush(callback cb) {
  std::string tail = boundary_.finish().to_string();
  if (!tail.empty()) push(std::move(tail));
  cb({});
}

// ---- hex ----

hex_encoder::hex_encoder(sluice::loop& l, const transform_options& o)
    : transform<buffer, buffer>(l, o) {}

void hex_encoder::do_transform(buffer&& chunk, transform_callback cb) {
  emit_bytes(cb, codec_.encode(chunk));
}

hex_decoder::hex_decoder(sluice::loop& l, const transform_options& o)
    : transform<buffer, buffer>(l, o) {}

void hex_decoder::do_transform(buffer&& chunk, transform_callback cb) {
  buffer out;
  if (const std::error_code ec = codec_.decode(chunk, out)) {
    cb(ec);
    return;
  }
  emit_bytes(cb, std::move(out));
}

void hex_decoder::do_flush(callback cb) { cb(codec_.finish()); }

// ---- base64 ----

base64_encoder::base64_encoder(sluice::loop& l, const transform_options& o)
    : transform<buffer, buffer>(l, o) {}

void base64_encoder::do_transform(buffer&& chunk, transform_callback cb) {
  emit_bytes(cb, codec_.encode(chunk));
}

void base64_encoder::do_flush(callback cb) {
  buffer tail = codec_.finish();
  if (!tail.empty()) push(std::move(tail));
  cb({});
}

base64_decoder::base64_decoder(sluice::loop& l, const transform_options& o)
    : transform<buffer, buffer>(l, o) {}

void base64_decoder::do_transform(buffer&& chunk, transform_callback cb) {
  buffer out;
  if (const std::error_code ec = codec_.decode(chunk, out)) {
    cb(ec);
    return;
  }
  emit_bytes(cb, std::move(out));
}

void base64_decoder::do_flush(callback cb) {
  buffer tail;
  if (const std::error_code ec = codec_.finish(tail)) {
    cb(ec);
    return;
  }
  if (!tail.empty()) push(std::move(tail));
  cb({});
}

}  // namespace sluice
