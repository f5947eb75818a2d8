// tests/alloc_counter.hpp: what the program asked of the global operator new, counted by the
// replacement in tests/alloc_counter.cpp. Cost tests compare counts, never times.
#ifndef PTLOAD_TESTS_ALLOC_COUNTER_HPP
#define PTLOAD_TESTS_ALLOC_COUNTER_HPP

#include <cstdint>

namespace ptload_test {

/// Total bytes asked of operator new (scalar and array forms) since the program started.
std::uint64_t bytes_allocated() noexcept;
/// Calls of operator new in every form (aligned ones too, except on Windows, where the C
/// library has no aligned allocation that plain free releases) since the program started.
std::uint64_t allocations() noexcept;

} // namespace ptload_test

#endif
