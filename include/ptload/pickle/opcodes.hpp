// pickle/opcodes.hpp: the 68 opcodes of pickle protocols 0-5 (FORMAT.md 1.2, pickletools).
// One constexpr row per opcode: byte, name, inline argument, first protocol.
#ifndef PTLOAD_PICKLE_OPCODES_HPP
#define PTLOAD_PICKLE_OPCODES_HPP

#include "../config.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ptload {
inline namespace v0 {
namespace pickle {

/// The inline argument that follows an opcode byte.
enum class arg : std::uint8_t {
    none,
    u1, u2, i4, u4, u8,        ///< little-endian fixed-width integers
    f8_be,                     ///< BINFLOAT: big-endian IEEE-754 double
    line,                      ///< text up to '\n'
    two_lines,                 ///< GLOBAL/INST: module '\n' name '\n'
    u1_bytes, i4_bytes, u4_bytes, u8_bytes,  ///< length then that many bytes
};

struct opcode_info {
    std::uint8_t byte;
    std::string_view name;
    arg argument;
    std::uint8_t proto;  ///< first protocol that has it
};

// clang-format off
inline constexpr opcode_info opcode_table[] = {
    {'(', "MARK", arg::none, 0},              {'.', "STOP", arg::none, 0},
    {'0', "POP", arg::none, 0},               {'1', "POP_MARK", arg::none, 1},
    {'2', "DUP", arg::none, 0},               {'F', "FLOAT", arg::line, 0},
    {'I', "INT", arg::line, 0},               {'J', "BININT", arg::i4, 1},
    {'K', "BININT1", arg::u1, 1},             {'L', "LONG", arg::line, 0},
    {'M', "BININT2", arg::u2, 1},             {'N', "NONE", arg::none, 0},
    {'P', "PERSID", arg::line, 0},            {'Q', "BINPERSID", arg::none, 1},
    {'R', "REDUCE", arg::none, 0},            {'S', "STRING", arg::line, 0},
    {'T', "BINSTRING", arg::i4_bytes, 1},     {'U', "SHORT_BINSTRING", arg::u1_bytes, 1},
    {'V', "UNICODE", arg::line, 0},           {'X', "BINUNICODE", arg::u4_bytes, 1},
    {'a', "APPEND", arg::none, 0},            {'b', "BUILD", arg::none, 0},
    {'c', "GLOBAL", arg::two_lines, 0},       {'d', "DICT", arg::none, 0},
    {'}', "EMPTY_DICT", arg::none, 1},        {'e', "APPENDS", arg::none, 1},
    {'g', "GET", arg::line, 0},               {'h', "BINGET", arg::u1, 1},
    {'i', "INST", arg::two_lines, 0},         {'j', "LONG_BINGET", arg::u4, 1},
    {'l', "LIST", arg::none, 0},              {']', "EMPTY_LIST", arg::none, 1},
    {'o', "OBJ", arg::none, 1},               {'p', "PUT", arg::line, 0},
    {'q', "BINPUT", arg::u1, 1},              {'r', "LONG_BINPUT", arg::u4, 1},
    {'s', "SETITEM", arg::none, 0},           {'t', "TUPLE", arg::none, 0},
    {')', "EMPTY_TUPLE", arg::none, 1},       {'u', "SETITEMS", arg::none, 1},
    {'G', "BINFLOAT", arg::f8_be, 1},
    {0x80, "PROTO", arg::u1, 2},              {0x81, "NEWOBJ", arg::none, 2},
    {0x82, "EXT1", arg::u1, 2},               {0x83, "EXT2", arg::u2, 2},
    {0x84, "EXT4", arg::i4, 2},               {0x85, "TUPLE1", arg::none, 2},
    {0x86, "TUPLE2", arg::none, 2},           {0x87, "TUPLE3", arg::none, 2},
    {0x88, "NEWTRUE", arg::none, 2},          {0x89, "NEWFALSE", arg::none, 2},
    {0x8A, "LONG1", arg::u1_bytes, 2},        {0x8B, "LONG4", arg::i4_bytes, 2},
    {'B', "BINBYTES", arg::u4_bytes, 3},      {'C', "SHORT_BINBYTES", arg::u1_bytes, 3},
    {0x8C, "SHORT_BINUNICODE", arg::u1_bytes, 4}, {0x8D, "BINUNICODE8", arg::u8_bytes, 4},
    {0x8E, "BINBYTES8", arg::u8_bytes, 4},    {0x8F, "EMPTY_SET", arg::none, 4},
    {0x90, "ADDITEMS", arg::none, 4},         {0x91, "FROZENSET", arg::none, 4},
    {0x92, "NEWOBJ_EX", arg::none, 4},        {0x93, "STACK_GLOBAL", arg::none, 4},
    {0x94, "MEMOIZE", arg::none, 4},          {0x95, "FRAME", arg::u8, 4},
    {0x96, "BYTEARRAY8", arg::u8_bytes, 5},   {0x97, "NEXT_BUFFER", arg::none, 5},
    {0x98, "READONLY_BUFFER", arg::none, 5},
};
// clang-format on

inline constexpr std::size_t opcode_count = sizeof(opcode_table) / sizeof(opcode_table[0]);
static_assert(opcode_count == 68, "protocols 0-5 define 68 opcodes");

/// The row for a byte, or nullptr when the byte is not an opcode.
constexpr const opcode_info* find_opcode(std::uint8_t b) noexcept {
    for (const auto& row : opcode_table)
        if (row.byte == b) return &row;
    return nullptr;
}

/// The inline argument of an opcode byte (arg::none for bytes that are not opcodes).
constexpr arg argument_of(std::uint8_t b) noexcept {
    for (const auto& row : opcode_table)
        if (row.byte == b) return row.argument;
    return arg::none;
}

/// Whether a byte is an opcode of protocols 0-5.
constexpr bool is_opcode(std::uint8_t b) noexcept {
    for (const auto& row : opcode_table)
        if (row.byte == b) return true;
    return false;
}

/// Opcode name for messages ("BINUNICODE"), or "unknown".
constexpr std::string_view opcode_name(std::uint8_t b) noexcept {
    const opcode_info* row = find_opcode(b);
    return row ? row->name : std::string_view("unknown");
}

constexpr bool opcode_bytes_unique() {
    for (std::size_t i = 0; i < opcode_count; ++i)
        for (std::size_t j = i + 1; j < opcode_count; ++j)
            if (opcode_table[i].byte == opcode_table[j].byte) return false;
    return true;
}
static_assert(opcode_bytes_unique(), "two opcode rows share a byte");

} // namespace pickle
} // namespace v0
} // namespace ptload

#endif
