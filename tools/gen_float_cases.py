#!/usr/bin/python3
"""Prints the C++ table of tests/test_float_text.cpp: texts of the FLOAT opcode and what
CPython's float() makes of them (the IEEE-754 bits, or a rejection). Run with the Python whose
float() is the reference: /usr/bin/python3 tools/gen_float_cases.py"""
import re
import struct

CASES = [
    "0", "-0", "+0.0", "1", "1.", ".5", "1e5", "1E-5", "1e+5", " \t1.5\n", "1_0", "1e1_0", "0.000_1", "00012",
    "inf", "-inf", "+Infinity", "INFINITY", "nan", "-nan", "NaN",
    "0.1", "0.30000000000000004", "9007199254740993", "9007199254740992.5", "123456789012345678901234567890",
    "4.9406564584124654e-324", "2.4703282292062327e-324", "2.4703282292062328e-324", "1e-999", "1e999", "-1e999",
    "2.2250738585072011e-308", "2.2250738585072014e-308", "1.7976931348623157e308", "1.7976931348623158e308",
    "1.7976931348623159e308", "1" * 900, "0." + "0" * 400 + "1", "9" * 800 + "e-1100",
    # exactly halfway between 1 and its successor: ties to even, then just above halfway
    "1.00000000000000011102230246251565404236316680908203125",
    "1.000000000000000111022302462515654042363166809082031250000000001",
    "", " ", ".", "e5", "1e", "1__0", "_1", "1_", "1_.5", "1._5", "1e_1", "1_e1", "nan(1)", "infin", "0x1p3",
    "1.5\0", "1,5", "1.5.5", "--1", "+-1", "-", ".e1", "1e1.5",
]

def cxx(s):
    out = '"'
    for ch in s:
        if ch in '"\\':
            out += "\\" + ch
        elif 32 <= ord(ch) < 127:
            out += ch
        else:
            out += '\\x%02x""' % ord(ch)
    return out + '"'

def text_expr(s):
    if len(s) < 100:
        return "std::string(%s, %d)" % (cxx(s), len(s))
    m = re.fullmatch(r"(.*?)(.)\2{99,}(.*)", s, re.S)  # a prefix, a long run of one character, a suffix
    return "std::string(%s) + std::string(%d, '%s') + std::string(%s)" % (
        cxx(m.group(1)), len(s) - len(m.group(1)) - len(m.group(3)), m.group(2), cxx(m.group(3)))


for s in CASES:
    try:
        bits = "0x%016xull" % struct.unpack("<Q", struct.pack("<d", float(s.encode())))[0]
        ok = "true"
    except ValueError:
        bits, ok = "0", "false"
    print("    {%s, %s, %s}," % (text_expr(s), ok, bits))
