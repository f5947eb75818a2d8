// pickle/opcodes.hpp: the 68 opcodes of pickle protocols 0-5 (FORMAT.md 1.2, pickletools).
// One constexpr row per opcode: byte, name, inline argument, first protocol, family.
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

/// The kind of work an opcode does; the machine has one handler per family.
enum class family : std::uint8_t {
    structure,  ///< the stack, marks, protocol and frames
    constant,   ///< None, bools, ints and floats
    text,       ///< str and bytes (and out-of-band buffers)
    container,  ///< tuples, lists, dicts, sets and their items
    memo,       ///< PUT and GET
    object,     ///< globals, calls, BUILD and persistent ids
};

struct opcode_info {
    std::uint8_t byte;
    std::string_view name;
    arg argument;
    std::uint8_t proto;  ///< first protocol that has it
    family group;
};

// clang-format off
inline constexpr opcode_info opcode_table[] = {
    {'(',  "MARK"sv,           arg::none,      0, family::structure},
    {'.',  "STOP"sv,           arg::none,      0, family::structure},
    {'0',  "POP"sv,            arg::none,      0, family::structure},
    {'1',  "POP_MARK"sv,       arg::none,      1, family::structure},
    {'2',  "DUP"sv,            arg::none,      0, family::structure},
    {'F',  "FLOAT"sv,          arg::line,      0, family::constant},
    {'I',  "INT"sv,            arg::line,      0, family::constant},
    {'J',  "BININT"sv,         arg::i4,        1, family::constant},
    {'K',  "BININT1"sv,        arg::u1,        1, family::constant},
    {'L',  "LONG"sv,           arg::line,      0, family::constant},
    {'M',  "BININT2"sv,        arg::u2,        1, family::constant},
    {'N',  "NONE"sv,           arg::none,      0, family::constant},
    {'P',  "PERSID"sv,         arg::line,      0, family::object},
    {'Q',  "BINPERSID"sv,      arg::none,      1, family::object},
    {'R',  "REDUCE"sv,         arg::none,      0, family::object},
    {'S',  "STRING"sv,         arg::line,      0, family::text},
    {'T',  "BINSTRING"sv,      arg::i4_bytes,  1, family::text},
    {'U',  "SHORT_BINSTRING"sv,  arg::u1_bytes,  1, family::text},
    {'V',  "UNICODE"sv,        arg::line,      0, family::text},
    {'X',  "BINUNICODE"sv,     arg::u4_bytes,  1, family::text},
    {'a',  "APPEND"sv,         arg::none,      0, family::container},
    {'b',  "BUILD"sv,          arg::none,      0, family::object},
    {'c',  "GLOBAL"sv,         arg::two_lines, 0, family::object},
    {'d',  "DICT"sv,           arg::none,      0, family::container},
    {'}',  "EMPTY_DICT"sv,     arg::none,      1, family::container},
    {'e',  "APPENDS"sv,        arg::none,      1, family::container},
    {'g',  "GET"sv,            arg::line,      0, family::memo},
    {'h',  "BINGET"sv,         arg::u1,        1, family::memo},
    {'i',  "INST"sv,           arg::two_lines, 0, family::object},
    {'j',  "LONG_BINGET"sv,    arg::u4,        1, family::memo},
    {'l',  "LIST"sv,           arg::none,      0, family::container},
    {']',  "EMPTY_LIST"sv,     arg::none,      1, family::container},
    {'o',  "OBJ"sv,            arg::none,      1, family::object},
    {'p',  "PUT"sv,            arg::line,      0, family::memo},
    {'q',  "BINPUT"sv,         arg::u1,        1, family::memo},
    {'r',  "LONG_BINPUT"sv,    arg::u4,        1, family::memo},
    {'s',  "SETITEM"sv,        arg::none,      0, family::container},
    {'t',  "TUPLE"sv,          arg::none,      0, family::container},
    {')',  "EMPTY_TUPLE"sv,    arg::none,      1, family::container},
    {'u',  "SETITEMS"sv,       arg::none,      1, family::container},
    {'G',  "BINFLOAT"sv,       arg::f8_be,     1, family::constant},
    {0x80, "PROTO"sv,          arg::u1,        2, family::structure},
    {0x81, "NEWOBJ"sv,         arg::none,      2, family::object},
    {0x82, "EXT1"sv,           arg::u1,        2, family::object},
    {0x83, "EXT2"sv,           arg::u2,        2, family::object},
    {0x84, "EXT4"sv,           arg::i4,        2, family::object},
    {0x85, "TUPLE1"sv,         arg::none,      2, family::container},
    {0x86, "TUPLE2"sv,         arg::none,      2, family::container},
    {0x87, "TUPLE3"sv,         arg::none,      2, family::container},
    {0x88, "NEWTRUE"sv,        arg::none,      2, family::constant},
    {0x89, "NEWFALSE"sv,       arg::none,      2, family::constant},
    {0x8A, "LONG1"sv,          arg::u1_bytes,  2, family::constant},
    {0x8B, "LONG4"sv,          arg::i4_bytes,  2, family::constant},
    {'B',  "BINBYTES"sv,       arg::u4_bytes,  3, family::text},
    {'C',  "SHORT_BINBYTES"sv, arg::u1_bytes,  3, family::text},
    {0x8C, "SHORT_BINUNICODE"sv, arg::u1_bytes,  4, family::text},
    {0x8D, "BINUNICODE8"sv,    arg::u8_bytes,  4, family::text},
    {0x8E, "BINBYTES8"sv,      arg::u8_bytes,  4, family::text},
    {0x8F, "EMPTY_SET"sv,      arg::none,      4, family::container},
    {0x90, "ADDITEMS"sv,       arg::none,      4, family::container},
    {0x91, "FROZENSET"sv,      arg::none,      4, family::container},
    {0x92, "NEWOBJ_EX"sv,      arg::none,      4, family::object},
    {0x93, "STACK_GLOBAL"sv,   arg::none,      4, family::object},
    {0x94, "MEMOIZE"sv,        arg::none,      4, family::memo},
    {0x95, "FRAME"sv,          arg::u8,        4, family::structure},
    {0x96, "BYTEARRAY8"sv,     arg::u8_bytes,  5, family::text},
    {0x97, "NEXT_BUFFER"sv,    arg::none,      5, family::text},
    {0x98, "READONLY_BUFFER"sv,  arg::none,      5, family::text},
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

/// The family of an opcode byte (family::structure for bytes that are not opcodes).
constexpr family family_of(std::uint8_t b) noexcept {
    for (const auto& row : opcode_table)
        if (row.byte == b) return row.group;
    return family::structure;
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

/// Whether no two rows share a byte (the tests assert it at compile time; a check here would
/// cost every file that includes ptload its 2,000 comparisons).
constexpr bool opcode_bytes_unique() {
    for (std::size_t i = 0; i < opcode_count; ++i)
        for (std::size_t j = i + 1; j < opcode_count; ++j)
            if (opcode_table[i].byte == opcode_table[j].byte) return false;
    return true;
}

} // namespace pickle
} // namespace v0
} // namespace ptload

#endif
