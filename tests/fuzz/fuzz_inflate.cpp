// libFuzzer entry point for drive_inflate (tests/fuzz/drive.hpp); tools/fuzz.sh builds and runs it.
#include "drive.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return ptload_fuzz::drive_inflate(data, size);
}
