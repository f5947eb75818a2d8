// detail/owner.hpp: sole ownership of one object, freed by a given function: what
// std::unique_ptr with a deleter does, without the templates <memory> instantiates for it in
// every file that includes ptload. A result's error (freed with delete) and a value's path text
// (freed through the memory functions) are held this way.
#ifndef PTLOAD_DETAIL_OWNER_HPP
#define PTLOAD_DETAIL_OWNER_HPP

namespace ptload {
inline namespace v0 {
namespace detail {

template <class T, void (*Free)(T*) noexcept>
class owner {
public:
    owner() noexcept = default;
    explicit owner(T* p) noexcept : p_(p) {}
    owner(owner&& o) noexcept : p_(o.p_) { o.p_ = nullptr; }
    owner& operator=(owner&& o) noexcept {
        if (this != &o) reset(o.p_), o.p_ = nullptr;
        return *this;
    }
    ~owner() {
        if (p_) Free(p_);
    }
    void reset(T* p) noexcept {
        if (p_) Free(p_);
        p_ = p;
    }
    T* get() const noexcept { return p_; }
    /// The object, no longer owned here.
    T* release() noexcept {
        T* p = p_;
        p_ = nullptr;
        return p;
    }
    T& operator*() const noexcept { return *p_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }

private:
    T* p_ = nullptr;
};

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
