// sluice/codec/json_frames.hpp: JSON as a frame serializer (Boost.JSON), and JSON lines of any
// type Boost.JSON can convert.
//
// json_serializer<T>          encode: boost::json::value_from, then serialize (escaping is
//                             Boost.JSON's); decode: boost::json::parse, then try_value_to<T>
// make_json_lines_encoder<T>  items → one JSON text per line ("\n" after each)
// make_json_lines_decoder<T>  lines → items; a line that is not JSON, or not a T, fails the
//                             stream naming the frame (the line), with Boost.JSON's reason
//
// T is anything boost::json::value_from/value_to convert: numbers, strings, std containers,
// std::optional, a struct described with BOOST_DESCRIBE_STRUCT, or a type with tag_invoke
// overloads of its own. docs/framing.md has an example.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

#include "sluice/codec/framing.hpp"

namespace sluice {

/// Items as JSON texts, through Boost.JSON. A payload that is not JSON fails with Boost.JSON's
/// parse error (category "boost.json", "syntax error" and the like); JSON of another shape
/// with its conversion error.
template <class T>
struct json_serializer {
  void encode(const T& item, std::string& out) const {
    out += boost::json::serialize(boost::json::value_from(item));
  }
  std::error_code decode(std::string_view in, T& into) const {
    boost::system::error_code ec;
    const boost::json::value v = boost::json::parse(in, ec);
    if (ec) return ec;
    auto r = boost::json::try_value_to<T>(v);
    if (r.has_error()) return r.error();
    into = std::move(*r);
    return {};
  }
};

/// Items of T to JSON lines: one JSON text and "\n" per item (Boost.JSON never writes a raw
/// newline inside a text). `max_frame_size` bounds one line.
template <class T>
[[nodiscard]] std::shared_ptr<frame_encoder<T, json_serializer<T>>> make_json_lines_encoder(
    sluice::loop& l, std::size_t max_frame_size = std::size_t{16} << 20,
    const transform_options& o = {}) {
  return make_frame_encoder<T>(
      l, json_serializer<T>{},
      frame_options{.format = frame_format::lines, .max_frame_size = max_frame_size}, o);
}

/// JSON lines to items of T. Every line is one item (an empty line is not JSON, and fails);
/// the last line needs no "\n".
template <class T>
[[nodiscard]] std::shared_ptr<frame_decoder<T, json_serializer<T>>> make_json_lines_decoder(
    sluice::loop& l, std::size_t max_frame_size = std::size_t{16} << 20,
    const transform_options& o = {}) {
  return make_frame_decoder<T>(
      l, json_serializer<T>{},
      frame_options{.format = frame_format::lines, .max_frame_size = max_frame_size}, o);
}

}  // namespace sluice
