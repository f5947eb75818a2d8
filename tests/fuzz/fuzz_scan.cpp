// libFuzzer entry point for drive_scan (tests/fuzz/drive.hpp); tools/fuzz.sh builds and runs it.
#include "drive.hpp"

#if !PTLOAD_FUZZ_HAS_SCAN
#error "fuzz_scan needs include/ptload/scan.hpp"
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return ptload_fuzz::drive_scan(data, size);
}
