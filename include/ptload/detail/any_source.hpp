// detail/any_source.hpp: any byte source behind one type, so the loaders are compiled once per
// policy set rather than once per source type. A read costs an indirect call, which is nothing
// next to the read itself; a source that holds its bytes in memory is read in place.
#ifndef PTLOAD_DETAIL_ANY_SOURCE_HPP
#define PTLOAD_DETAIL_ANY_SOURCE_HPP

#include "../error.hpp"
#include "../policies/source.hpp"

#include <cstdint>
#include <type_traits>

namespace ptload {
inline namespace v0 {
namespace detail {

/// A non-owning view of a byte source (it must outlive the view).
class any_source {
public:
    template <class Source, class = std::enable_if_t<!std::is_same<std::decay_t<Source>, any_source>::value>>
    explicit any_source(Source& src) noexcept : object_(&src), size_(src.size()), read_(&read_through<Source>) {
        if constexpr (has_data<Source>::value) memory_ = src.data();
    }
    std::uint64_t size() const noexcept { return size_; }
    /// The whole contents when the source holds them in memory, else null.
    const std::uint8_t* memory() const noexcept { return memory_; }
    status read_at(std::uint64_t offset, void* dst, std::size_t n) const { return read_(object_, offset, dst, n); }

private:
    template <class Source>
    static status read_through(void* object, std::uint64_t offset, void* dst, std::size_t n) {
        return static_cast<Source*>(object)->read_at(offset, dst, n);
    }

    void* object_;
    std::uint64_t size_;
    const std::uint8_t* memory_ = nullptr;
    status (*read_)(void*, std::uint64_t, void*, std::size_t);
};

/// ptload's own views of a source, which know only when running whether its bytes are in
/// memory, and say so with memory(): any_source, and a read-ahead window (read_window.hpp).
/// A user's source says it by having data().
template <class S>
struct runtime_memory : std::false_type {};
template <>
struct runtime_memory<any_source> : std::true_type {};

/// The whole contents of src when they are in memory, else null.
template <class Source>
const std::uint8_t* memory_of(const Source& src) noexcept {
    if constexpr (runtime_memory<Source>::value) return src.memory();
    else if constexpr (has_data<Source>::value) return src.data();
    else return nullptr;
}

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
