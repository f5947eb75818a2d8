// span.hpp: a minimal read-only view over contiguous elements (C++17 has no std::span).
#ifndef PTLOAD_SPAN_HPP
#define PTLOAD_SPAN_HPP

#include "config.hpp"

#include <cstddef>

namespace ptload {
inline namespace v0 {

/// A pointer and a count. Does not own.
template <class T>
class span {
public:
    constexpr span() noexcept = default;
    constexpr span(T* data, std::size_t size) noexcept : data_(data), size_(size) {}
    constexpr T* data() const noexcept { return data_; }
    constexpr std::size_t size() const noexcept { return size_; }
    constexpr bool empty() const noexcept { return size_ == 0; }
    constexpr T* begin() const noexcept { return data_; }
    constexpr T* end() const noexcept { return data_ + size_; }
    constexpr T& operator[](std::size_t i) const noexcept { return data_[i]; }

private:
    T* data_ = nullptr;
    std::size_t size_ = 0;
};

} // namespace v0
} // namespace ptload

#endif
