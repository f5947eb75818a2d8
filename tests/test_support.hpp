// tests/test_support.hpp: paths and file helpers shared by the tests.
#ifndef PTLOAD_TESTS_SUPPORT_HPP
#define PTLOAD_TESTS_SUPPORT_HPP

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

// Strict mode with each encoding but the default: X(set) for each. test_strict.cpp loads with
// them; with separate compilation implementation_strict.cpp compiles them once.
#define PTLOAD_STRICT_ENCODING_SETS(X)                                                         \
    X(::ptload::strict, ::ptload::decoding<::ptload::encoding::utf8, ::ptload::on_error::replace>)  \
    X(::ptload::strict, ::ptload::decoding<::ptload::encoding::latin1, ::ptload::on_error::strict>) \
    X(::ptload::strict, ::ptload::decoding<::ptload::encoding::ascii, ::ptload::on_error::strict>)  \
    X(::ptload::strict, ::ptload::decoding<::ptload::encoding::ascii, ::ptload::on_error::replace>) \
    X(::ptload::strict, ::ptload::decoding<::ptload::encoding::bytes, ::ptload::on_error::strict>)

#ifndef PTLOAD_SOURCE_DIR
#define PTLOAD_SOURCE_DIR "."
#endif

namespace ptload_test {

/// A path relative to the repository root (corpus files are "../shared/corpus/...").
inline std::string source_path(const std::string& relative) { return std::string(PTLOAD_SOURCE_DIR) + "/" + relative; }

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::vector<std::uint8_t> read_bytes(const std::string& path) {
    std::string s = read_file(path);
    return std::vector<std::uint8_t>(s.begin(), s.end());
}

inline bool exists(const std::string& path) { return std::ifstream(path).good(); }

} // namespace ptload_test

#endif
