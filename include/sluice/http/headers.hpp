// sluice/http/headers.hpp: http_headers, an ordered list of HTTP header fields.
//
// Names compare case-insensitively (RFC 9110); the order and the spelling of what was received or
// set are kept. Used by the server (http_request, http_response in server.hpp) and the client
// (client.hpp) alike.
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

/// Case-insensitive ASCII comparison of two header names.
[[nodiscard]] inline bool http_name_equal(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

class http_headers {
 public:
  using field = std::pair<std::string, std::string>;

  http_headers() = default;
  http_headers(std::initializer_list<field> fields) : fields_(fields) {}

  /// Adds a field, keeping any of the same name (Set-Cookie, Vary, ...).
  void add(std::string name, std::string value) {
    fields_.emplace_back(std::move(name), std::move(value));
  }
  /// Replaces every field named `name` with one.
  void set(std::string name, std::string value) {
    remove(name);
    add(std::move(name), std::move(value));
  }
  /// Removes every field named `name`; returns whether there was one.
  bool remove(std::string_view name) {
    const auto n = fields_.size();
    std::erase_if(fields_, [&](const field& f) { return http_name_equal(f.first, name); });
    return fields_.size() != n;
  }
  /// The value of the first field named `name`.
  [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const {
    for (const auto& f : fields_)
      if (http_name_equal(f.first, name)) return std::string_view(f.second);
    return std::nullopt;
  }
  [[nodiscard]] bool contains(std::string_view name) const { return get(name).has_value(); }
  [[nodiscard]] std::size_t size() const noexcept { return fields_.size(); }
  [[nodiscard]] bool empty() const noexcept { return fields_.empty(); }
  [[nodiscard]] auto begin() const noexcept { return fields_.begin(); }
  [[nodiscard]] auto end() const noexcept { return fields_.end(); }

 private:
  std::vector<field> fields_;
};

}  // namespace sluice
