// tests/support/sanitizers.hpp: what a test can expect of the process it runs in when it was
// built with a sanitizer.
#pragma once

namespace sluice::test {

/// Whether RSS says anything about our allocations: AddressSanitizer keeps freed memory in
/// quarantine (hundreds of MiB), so under it RSS grows with every allocation, freed or not.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool rss_is_meaningful = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool rss_is_meaningful = false;
#else
inline constexpr bool rss_is_meaningful = true;
#endif
#else
inline constexpr bool rss_is_meaningful = true;
#endif

}  // namespace sluice::test
