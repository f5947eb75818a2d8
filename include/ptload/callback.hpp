// callback.hpp: a user's function kept by ptload (map_location as a callable, the handlers of
// registered location tags): any callable with the right signature, a lambda with captures
// included, copied with the options that hold it.
//
// It does for these what std::function does, and no more, without <functional>, which would
// otherwise be among the costliest headers of every file that includes ptload. Its copy of the
// callable is on the global heap, as the options' strings are: options outlive loads and may
// be made before the memory functions are set, so they must not take memory from them.
#ifndef PTLOAD_CALLBACK_HPP
#define PTLOAD_CALLBACK_HPP

#include "config.hpp"

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace ptload {
inline namespace v0 {

template <class Signature>
class callback;

/// An owning, copyable holder of a callable `R(Args...)`; empty by default. Calling an empty
/// one is a programming error (ptload tests before it calls).
template <class R, class... Args>
class callback<R(Args...)> {
public:
    callback() noexcept = default;
    callback(std::nullptr_t) noexcept {}
    /// Holds a copy of `f`. A null function pointer makes an empty callback.
    template <class F, class Target = std::decay_t<F>,
              class = std::enable_if_t<!std::is_same<Target, callback>::value && std::is_invocable_r<R, Target&, Args...>::value>>
    callback(F&& f) {
        if constexpr (std::is_pointer<Target>::value) {
            if (!f) return;
        }
        target_ = new Target(std::forward<F>(f));
        ops_ = &operations_of<Target>;
    }
    callback(const callback& other) : target_(other.target_ ? other.ops_->copy(other.target_) : nullptr), ops_(other.ops_) {}
    callback(callback&& other) noexcept : target_(other.target_), ops_(other.ops_) { other.target_ = nullptr; }
    callback& operator=(callback other) noexcept {
        std::swap(target_, other.target_);
        std::swap(ops_, other.ops_);
        return *this;
    }
    ~callback() {
        if (target_) ops_->destroy(target_);
    }

    explicit operator bool() const noexcept { return target_ != nullptr; }
    R operator()(Args... args) const { return ops_->call(target_, std::forward<Args>(args)...); }

private:
    struct operations {
        R (*call)(void* target, Args&&... args);
        void* (*copy)(const void* target);
        void (*destroy)(void* target) noexcept;
    };
    template <class Target>
    static R call_target(void* target, Args&&... args) {
        return static_cast<R>((*static_cast<Target*>(target))(std::forward<Args>(args)...));
    }
    template <class Target>
    static void* copy_target(const void* target) {
        return new Target(*static_cast<const Target*>(target));
    }
    template <class Target>
    static void destroy_target(void* target) noexcept {
        delete static_cast<Target*>(target);
    }
    template <class Target>
    static constexpr operations operations_of{&call_target<Target>, &copy_target<Target>, &destroy_target<Target>};

    void* target_ = nullptr;
    const operations* ops_ = nullptr;
};

} // namespace v0
} // namespace ptload

#endif
