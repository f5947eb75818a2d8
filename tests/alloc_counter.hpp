// tests/alloc_counter.hpp: bytes requested from the global operator new, counted by the
// replacement in tests/alloc_counter.cpp. Cost tests compare counts, never times.
#ifndef PTLOAD_TESTS_ALLOC_COUNTER_HPP
#define PTLOAD_TESTS_ALLOC_COUNTER_HPP

#include <cstdint>

namespace ptload_test {

/// Total bytes asked of operator new (scalar and array forms) since the program started.
std::uint64_t bytes_allocated() noexcept;

} // namespace ptload_test

#endif
