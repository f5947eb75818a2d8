// A stored (uncompressed) zip archive built in memory, for tests that need an archive whose
// records, names or directory no fixture has: a damaged one, or one too big to commit.
#ifndef PTLOAD_TESTS_ZIP_BUILDER_HPP
#define PTLOAD_TESTS_ZIP_BUILDER_HPP

#include <ptload/detail/crc32.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace ptload_test {

struct zip_part {
    std::string name, local_name, data;  // local_name: the local header's, when it differs
    std::uint16_t flags = 0;
    bool listed = true;    // in the central directory
    bool bad_crc = false;  // a CRC-32 that does not match the data
};

inline std::string zip_le(std::uint32_t v, int bytes) {
    std::string s(static_cast<std::size_t>(bytes), '\0');
    for (int i = 0; i < bytes; ++i) s[static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xFF);
    return s;
}

/// A stored zip; local and central names, flags and listing as each part says.
inline std::string make_zip(const std::vector<zip_part>& parts) {
    const auto u16 = [](std::uint32_t v) { return zip_le(v, 2); };
    const auto u32 = [](std::uint32_t v) { return zip_le(v, 4); };
    std::string out, cd;
    std::uint16_t listed = 0;
    for (const auto& p : parts) {
        const std::string local = p.local_name.empty() ? p.name : p.local_name;
        std::uint32_t crc = ptload::detail::crc32(reinterpret_cast<const std::uint8_t*>(p.data.data()), p.data.size());
        if (p.bad_crc) crc ^= 1;
        const auto offset = static_cast<std::uint32_t>(out.size());
        const auto size = static_cast<std::uint32_t>(p.data.size());
        out += "PK\x03\x04" + u16(20) + u16(p.flags) + u16(0) + u32(0) + u32(crc) + u32(size) + u32(size) +
               u16(static_cast<std::uint16_t>(local.size())) + u16(0) + local + p.data;
        if (!p.listed) continue;
        ++listed;
        cd += "PK\x01\x02" + u16(20) + u16(20) + u16(p.flags) + u16(0) + u32(0) + u32(crc) + u32(size) + u32(size) +
              u16(static_cast<std::uint16_t>(p.name.size())) + u16(0) + u16(0) + u16(0) + u16(0) + u32(0) +
              u32(offset) + p.name;
    }
    const auto cd_offset = static_cast<std::uint32_t>(out.size());
    out += cd;
    out += "PK\x05\x06" + u16(0) + u16(0) + u16(listed) + u16(listed) + u32(static_cast<std::uint32_t>(cd.size())) +
           u32(cd_offset) + u16(0);
    return out;
}

} // namespace ptload_test

#endif
