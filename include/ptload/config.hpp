// ptload: read PyTorch torch.save files without Python or LibTorch.
// config.hpp: version, exception detection, the namespace, the user configuration hook.
#ifndef PTLOAD_CONFIG_HPP
#define PTLOAD_CONFIG_HPP

// A project can put its PTLOAD_* settings in one header and name it here.
#ifdef PTLOAD_CONFIG_HEADER
#include PTLOAD_CONFIG_HEADER
#endif

#include <string_view>

#define PTLOAD_VERSION_MAJOR 0
#define PTLOAD_VERSION_MINOR 1
#define PTLOAD_VERSION_PATCH 0

// Exceptions are optional: the core never throws. ex.hpp adds a throwing layer when they exist.
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
#define PTLOAD_COMPILER_HAS_EXCEPTIONS 1
#else
#define PTLOAD_COMPILER_HAS_EXCEPTIONS 0
#endif

#ifndef PTLOAD_EXCEPTIONS
#define PTLOAD_EXCEPTIONS PTLOAD_COMPILER_HAS_EXCEPTIONS
#elif PTLOAD_EXCEPTIONS && !PTLOAD_COMPILER_HAS_EXCEPTIONS
#error "PTLOAD_EXCEPTIONS=1 but the compiler has exceptions disabled; remove the define or enable exceptions."
#endif

#if __cplusplus < 201703L && (!defined(_MSVC_LANG) || _MSVC_LANG < 201703L)
#error "ptload needs C++17 or later."
#endif

#if defined(__GNUC__) || defined(__clang__)
#define PTLOAD_LIKELY(x) __builtin_expect(!!(x), 1)
#define PTLOAD_UNLIKELY(x) __builtin_expect(!!(x), 0)
// error paths kept out of line, so the checks in front of them stay small enough to inline
#define PTLOAD_COLD __attribute__((noinline, cold))
// rare but not cold paths (an array's growth): out of line, still optimised for speed
#define PTLOAD_NOINLINE __attribute__((noinline))
// the document's accessors, a few instructions each: in a big loader function the compiler's
// inlining budget ran out and left them as calls (half a million per 100,000 tensors)
#define PTLOAD_INLINE inline __attribute__((always_inline))
#else
#define PTLOAD_LIKELY(x) (x)
#define PTLOAD_UNLIKELY(x) (x)
#define PTLOAD_COLD
#define PTLOAD_NOINLINE
#define PTLOAD_INLINE inline
#endif

namespace ptload {
inline namespace v0 {
/// The library version as "major.minor.patch".
inline constexpr const char* version_string = "0.1.0";

// ptload's tables of names write their strings "..."sv: a string_view made from a plain
// literal has its length counted by constant evaluation, in every file that includes the
// header (hundreds of names: a measurable part of the include's compile time).
using std::string_view_literals::operator""sv;
} // namespace v0
} // namespace ptload

#endif
