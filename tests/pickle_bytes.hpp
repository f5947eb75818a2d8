// tests/pickle_bytes.hpp: pickles written byte by byte in tests, and parsing them.
//
//   P({0x80, 2, ']'}) + std::string("text") + P({'.'})   opcodes, then raw text, then more
//   parse(b), parse<ptload::strict>(b, options)           ptload::load_pickle of the bytes
#ifndef PTLOAD_TESTS_PICKLE_BYTES_HPP
#define PTLOAD_TESTS_PICKLE_BYTES_HPP

#include <ptload/ptload.hpp>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace ptload_test {
namespace pickle_bytes {

using bytes = std::vector<std::uint8_t>;

/// Bytes from small integers (opcodes, lengths, single characters).
inline bytes P(std::initializer_list<int> items) {
    bytes b;
    for (int i : items) b.push_back(static_cast<std::uint8_t>(i));
    return b;
}

/// The bytes of a text, unchanged.
inline bytes of(std::string_view s) { return bytes(s.begin(), s.end()); }

inline bytes operator+(bytes a, const bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}
inline bytes operator+(bytes a, const std::string& s) {
    a.insert(a.end(), s.begin(), s.end());
    return a;
}

template <class... Policies>
ptload::result<ptload::document> parse(const bytes& b, const ptload::load_options& o = {}) {
    return ptload::load_pickle<Policies...>(ptload::memory_source(b.data(), b.size()), o);
}

} // namespace pickle_bytes
} // namespace ptload_test

#endif
