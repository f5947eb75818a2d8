// Replaces the global operator new/delete with malloc/free plus counters, for
// tests/alloc_counter.hpp. The aligned forms use aligned_alloc where the C library has one.
#include "alloc_counter.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<std::uint64_t> requested{0};
std::atomic<std::uint64_t> calls{0};

void* counted(std::size_t n) noexcept {
    requested.fetch_add(n, std::memory_order_relaxed);
    calls.fetch_add(1, std::memory_order_relaxed);
    return std::malloc(n ? n : 1);
}
void* or_fail(void* p) {
    if (p) return p;
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
    throw std::bad_alloc();
#else
    std::abort();
#endif
}
} // namespace

std::uint64_t ptload_test::bytes_allocated() noexcept { return requested.load(std::memory_order_relaxed); }
std::uint64_t ptload_test::allocations() noexcept { return calls.load(std::memory_order_relaxed); }

void* operator new(std::size_t n) { return or_fail(counted(n)); }
void* operator new[](std::size_t n) { return or_fail(counted(n)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

#if !defined(_WIN32)
namespace {
void* counted_aligned(std::size_t n, std::align_val_t a) noexcept {
    calls.fetch_add(1, std::memory_order_relaxed);
    const auto align = static_cast<std::size_t>(a);
    return std::aligned_alloc(align, (n + align - 1) / align * align + (n ? 0 : align));  // a multiple of align, never 0
}
} // namespace
void* operator new(std::size_t n, std::align_val_t a) { return or_fail(counted_aligned(n, a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return or_fail(counted_aligned(n, a)); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept { return counted_aligned(n, a); }
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept { return counted_aligned(n, a); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
#endif
