// policies/globals.hpp: which globals a pickle may name. The default, `permissive`, refuses
// only dangerous globals (pickle/globals.hpp) and keeps every other one as an inert object;
// `strict` is torch.load(weights_only=True): only the globals torch's weights_only unpickler
// accepts, numpy's non-object arrays, scalars and dtypes, and the names the caller adds in
// load_options::safe_globals (torch.serialization.add_safe_globals).
//
//     auto doc = ptload::load<ptload::strict>(src);
//     ptload::load_options opt;
//     opt.safe_globals = {"argparse.Namespace"};
//     auto doc2 = ptload::load<ptload::strict>(src, opt);
#ifndef PTLOAD_POLICIES_GLOBALS_HPP
#define PTLOAD_POLICIES_GLOBALS_HPP

#include "roles.hpp"

#include <type_traits>

namespace ptload {
inline namespace v0 {

/// Dangerous globals fail the load; all others load, unknown ones as inert objects.
struct permissive {
    using ptload_role = role::globals;
    static constexpr bool allowlist_only = false;
};

/// Only allowlisted globals load (torch.load(weights_only=True)); any other fails the load
/// with errc::disallowed_global, naming the global and how to allow it.
struct strict {
    using ptload_role = role::globals;
    static constexpr bool allowlist_only = true;
};

namespace detail {
template <class P, class = void>
struct is_globals_policy : std::false_type {};
template <class P>
struct is_globals_policy<P, std::void_t<decltype(bool{P::allowlist_only})>> : std::true_type {};
} // namespace detail

} // namespace v0
} // namespace ptload

#endif
