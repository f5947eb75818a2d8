// tests/test_support.hpp: paths and file helpers shared by the tests.
#ifndef PTLOAD_TESTS_SUPPORT_HPP
#define PTLOAD_TESTS_SUPPORT_HPP

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

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

/// A file of the real-world corpus, which lives beside the repository.
inline std::string corpus(const std::string& name) { return source_path("../shared/corpus/" + name); }

/// The sample checkpoint of examples/.
inline const std::string sample = source_path("examples/sample.pt");

} // namespace ptload_test

#endif
