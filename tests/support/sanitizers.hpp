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

/// Whether the process runs under AddressSanitizer, where code runs several times slower. The
/// exhaustive sweeps (every damaged copy of an input, in tiny chunks) check logic that the GCC
/// build checks in full; under the sanitizer they take a sample, which is what memory checking
/// needs, and keep the suite inside its time budget.
inline constexpr bool slow_sanitizer = !rss_is_meaningful;

}  // namespace sluice::test
