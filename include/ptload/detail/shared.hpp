// detail/shared.hpp: shared ownership of what a load hands out, with the count inside the object.
//
// A document's contents are shared by the document and every tensor taken from it; the storage
// reader by the document and, in mapped mode, by what points into its source; a source the
// caller gave by value by that reader. std::shared_ptr did this job, but <memory> and the
// templates its handles instantiate were a tenth of the compile time of a file that only
// includes ptload.hpp. The objects here carry their own count (as enable_shared_from_this
// carries its weak reference), so a tensor made from a bare `const document_data*` can share
// it without one being passed along.
#ifndef PTLOAD_DETAIL_SHARED_HPP
#define PTLOAD_DETAIL_SHARED_HPP

#include "../config.hpp"
#include "../memory.hpp"
#include "atomic.hpp"

#include <cstddef>
#include <type_traits>
#include <utility>

namespace ptload {
inline namespace v0 {
namespace detail {

template <class T>
class shared;

/// The base of an object that shared handles own: a count of handles and the way to free it,
/// both set by make_shared. One made otherwise (on the stack, say) has neither, and a handle
/// asked to share it stays empty.
class shared_object {
public:
    shared_object() noexcept = default;
    shared_object(const shared_object&) = delete;
    shared_object& operator=(const shared_object&) = delete;

    /// Whether make_shared made this object (and handles may share it).
    bool counted() const noexcept { return free_ != nullptr; }

protected:
    ~shared_object() = default;  // only free_ destroys a counted object, as its own type

private:
    template <class T>
    friend class shared;
    template <class T, class... Args>
    friend shared<T> make_shared(Args&&... args);

    void add_ref() const noexcept { refs_.fetch_add(1, order::relaxed); }
    void release() const noexcept {
        // acq_rel: the last owner sees every other owner's writes before it frees the object
        if (refs_.fetch_sub(1, order::acq_rel) == 1) free_(const_cast<shared_object*>(this));
    }

    mutable atomic<std::size_t> refs_{0};
    void (*free_)(shared_object*) noexcept = nullptr;
};

/// A handle that shares ownership of a T (a shared_object) with every copy of it; the last one
/// to go frees the object. Copies may be made and dropped on any thread.
template <class T>
class shared {
public:
    shared() noexcept = default;
    shared(std::nullptr_t) noexcept {}
    shared(const shared& o) noexcept : p_(o.p_) {
        if (p_) p_->add_ref();
    }
    shared(shared&& o) noexcept : p_(o.p_) { o.p_ = nullptr; }
    /// A handle on a base (or const) of what `o` holds.
    template <class U, class = std::enable_if_t<std::is_convertible<U*, T*>::value>>
    shared(shared<U>&& o) noexcept : p_(o.p_) {
        o.p_ = nullptr;
    }
    template <class U, class = std::enable_if_t<std::is_convertible<U*, T*>::value>>
    shared(const shared<U>& o) noexcept : p_(o.p_) {
        if (p_) p_->add_ref();
    }
    shared& operator=(shared o) noexcept {
        std::swap(p_, o.p_);
        return *this;
    }
    ~shared() {
        if (p_) p_->release();
    }

    /// Another handle on `p` where make_shared made it, else an empty one.
    static shared share(T* p) noexcept {
        shared s;
        if (p && p->counted()) {
            p->add_ref();
            s.p_ = p;
        }
        return s;
    }

    T* get() const noexcept { return p_; }
    T& operator*() const noexcept { return *p_; }
    T* operator->() const noexcept { return p_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }
    void reset() noexcept { shared().swap(*this); }
    void swap(shared& o) noexcept { std::swap(p_, o.p_); }

private:
    template <class U>
    friend class shared;
    template <class U, class... Args>
    friend shared<U> make_shared(Args&&... args);

    T* p_ = nullptr;
};

/// A T (a shared_object) from the memory functions, owned by the handle returned.
template <class T, class... Args>
shared<T> make_shared(Args&&... args) {
    static_assert(std::is_base_of<shared_object, T>::value, "make_shared makes shared_objects");
    T* p = new_object<T>(std::forward<Args>(args)...);
    shared_object* base = p;
    base->free_ = [](shared_object* o) noexcept { delete_object(static_cast<T*>(o)); };
    base->refs_.store(1, order::relaxed);
    shared<T> s;
    s.p_ = p;
    return s;
}

/// Any value kept alive by shared handles (a source the caller gave by value).
template <class V>
struct shared_value final : shared_object {
    explicit shared_value(V&& v) : value(std::move(v)) {}
    V value;
};

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
