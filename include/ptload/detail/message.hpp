// detail/message.hpp: error messages written out of line from their pieces.
//
// A message such as "needs " + std::to_string(n) + " bytes, " + ... made where the error is
// found is a string per piece and per join, each destroyed (and given a cleanup path for
// exceptions) in the function that fails. The library fails in hundreds of places, so that
// code was a large part of a loader's size and of its compile time. A failure given its
// message as {"needs ", n, " bytes, ", ...} instead passes a small array of views and numbers
// to one out-of-line call, which writes the text.
#ifndef PTLOAD_DETAIL_MESSAGE_HPP
#define PTLOAD_DETAIL_MESSAGE_HPP

#include "../config.hpp"

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

namespace ptload {
inline namespace v0 {
namespace detail {

/// One piece of a message: text (viewed, so it must outlive the call it is passed to, as a
/// temporary in the same expression does), one char, or an integer written in decimal.
class message_piece {
public:
    message_piece(const char* text) noexcept : text_(text) {}
    template <class Traits, class Alloc>
    message_piece(const std::basic_string<char, Traits, Alloc>& text) noexcept : text_(text.data(), text.size()) {}
    message_piece(std::string_view text) noexcept : text_(text) {}
    /// A char is a character, as std::string's operator+ appends it.
    message_piece(char c) noexcept : text_(&c_, 1), c_(c) {}
    /// Any other integer is a number, as std::to_string writes it.
    template <class Int, std::enable_if_t<std::is_integral<Int>::value && !std::is_same<Int, char>::value &&
                                              !std::is_same<Int, bool>::value,
                                          int> = 0>
    message_piece(Int v) noexcept : number_(true), negative_(v < 0), magnitude_(magnitude(v)) {}

    message_piece(const message_piece&) = delete;
    message_piece& operator=(const message_piece&) = delete;

    void append_to(std::string& out) const {
        if (!number_) {
            out.append(text_.data(), text_.size());
            return;
        }
        char digits[20];
        std::size_t n = 0;
        std::uint64_t v = magnitude_;
        do digits[n++] = static_cast<char>('0' + v % 10);
        while (v /= 10);
        if (negative_) out += '-';
        while (n) out += digits[--n];
    }

private:
    template <class Int>
    static std::uint64_t magnitude(Int v) noexcept {
        // The magnitude of the most negative value too: negate after widening, in unsigned.
        return v < 0 ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
    }

    std::string_view text_;
    char c_ = 0;
    bool number_ = false;
    bool negative_ = false;
    std::uint64_t magnitude_ = 0;
};

/// The pieces written one after another.
PTLOAD_COLD inline std::string message_text(std::initializer_list<message_piece> pieces) {
    std::string out;
    for (const message_piece& p : pieces) p.append_to(out);
    return out;
}

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
