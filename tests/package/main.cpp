// A user's program: it includes the umbrella header and calls something trivial.
#include <ptload/ptload.hpp>

#include <cstdio>
#include <string>

int main() {
    const std::string expected = std::to_string(PTLOAD_VERSION_MAJOR) + "." +
                                 std::to_string(PTLOAD_VERSION_MINOR) + "." +
                                 std::to_string(PTLOAD_VERSION_PATCH);
    std::printf("consumer: ptload %s\n", ptload::version_string);
    return expected == ptload::version_string ? 0 : 1;
}
