// ex.hpp: a thin throwing layer for code built with exceptions. The core never throws; these
// wrappers turn an error result into ptload::exception.
//     ptload::document doc = ptload::ex::load_file("model.pt");
#ifndef PTLOAD_EX_HPP
#define PTLOAD_EX_HPP

#include "config.hpp"

#if PTLOAD_EXCEPTIONS

#include "error.hpp"
#include "load.hpp"

#include <stdexcept>
#include <string>
#include <utility>

namespace ptload {
inline namespace v0 {

/// Thrown by the ex:: wrappers; carries the structured error.
class exception : public std::runtime_error {
public:
    explicit exception(error e) : std::runtime_error(e.what()), error_(std::move(e)) {}
    const error& err() const noexcept { return error_; }

private:
    error error_;
};

namespace ex {

/// The value of a result, or throws its error.
template <class T>
T value_or_throw(result<T>&& r) {
    if (!r) throw exception(std::move(r).err());
    return std::move(r).value();
}

template <class... Policies, class Source>
document load(Source&& src, const load_options& opts = {}) {
    return value_or_throw(ptload::load<Policies...>(std::forward<Source>(src), opts));
}
template <class... Policies, class Source>
document load_pickle(Source&& src, const load_options& opts = {}) {
    return value_or_throw(ptload::load_pickle<Policies...>(std::forward<Source>(src), opts));
}
template <class... Policies>
document load_file(const std::string& path, const load_options& opts = {}) {
    return value_or_throw(ptload::load_file<Policies...>(path, opts));
}

} // namespace ex
} // namespace v0
} // namespace ptload

#endif
#endif
