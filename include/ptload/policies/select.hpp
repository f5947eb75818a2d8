// policies/select.hpp: picks, for each role, the first policy in a pack that carries the role's
// marker, else the default, so users name only what they change, in any order:
//     ptload::load<ptload::latin1, my_limits>(src)
#ifndef PTLOAD_POLICIES_SELECT_HPP
#define PTLOAD_POLICIES_SELECT_HPP

#include "allocator.hpp"
#include "decode.hpp"
#include "globals.hpp"
#include "limits.hpp"
#include "roles.hpp"

#include <type_traits>

namespace ptload {
inline namespace v0 {
namespace detail {

template <class P, class = void>
struct role_of {
    using type = void;
};
template <class P>
struct role_of<P, std::void_t<typename P::ptload_role>> {
    using type = typename P::ptload_role;
};

template <class Role, class Default, class... Ps>
struct pick {
    using type = Default;
};
template <class Role, class Default, class P, class... Ps>
struct pick<Role, Default, P, Ps...> {
    using type = std::conditional_t<std::is_same<typename role_of<P>::type, Role>::value, P,
                                    typename pick<Role, Default, Ps...>::type>;
};

template <class P>
constexpr bool is_known_role() {
    using r = typename role_of<P>::type;
    return std::is_same<r, role::decoding>::value || std::is_same<r, role::allocator>::value ||
           std::is_same<r, role::limits>::value || std::is_same<r, role::globals>::value;
}

} // namespace detail

/// The policies chosen from a pack, with defaults for roles not named.
template <class... Ps>
struct policies {
    static_assert((detail::is_known_role<Ps>() && ...),
                  "ptload::load<...>: every policy must declare `using ptload_role = ptload::role::decoding` "
                  "(or ::allocator, ::limits, ::globals); the byte source is passed as the function argument instead");
    using decoding = typename detail::pick<role::decoding, utf8, Ps...>::type;
    using allocator = typename detail::pick<role::allocator, heap_allocator, Ps...>::type;
    using limits = typename detail::pick<role::limits, default_limits, Ps...>::type;
    using globals = typename detail::pick<role::globals, permissive, Ps...>::type;
    static_assert(detail::is_decoding<decoding>::value,
                  "ptload decoding policy: needs `static constexpr bool keep_bytes`, `static constexpr const char* "
                  "name` and `static std::size_t decode(const std::uint8_t*, std::size_t, std::string&)`");
    static_assert(detail::is_allocator<allocator>::value,
                  "ptload allocator policy: needs `static ptload::storage_buffer allocate(const "
                  "ptload::storage_description&, std::uint64_t nbytes, std::string_view device, void* context)` "
                  "(or the same with `const ptload::storage_origin&` in place of nbytes)");
    static_assert(detail::is_limits<limits>::value,
                  "ptload limits policy: derive it from ptload::default_limits and shadow the members you change");
    static_assert(detail::is_globals_policy<globals>::value,
                  "ptload globals policy: use ptload::permissive or ptload::strict (or declare `using ptload_role = ptload::role::globals;` and `static constexpr bool allowlist_only`)");
};

/// The one type of a set of choices, however a pack spells it (in any order, defaults named or
/// left out): `canonical_policies<>`, `canonical_policies<utf8>` and
/// `canonical_policies<permissive, utf8>` are the same type, so what is made per set (its
/// policy values, the thunks of its allocator) is made once for all of them.
template <class... Ps>
using canonical_policies = policies<typename policies<Ps...>::decoding, typename policies<Ps...>::allocator,
                                    typename policies<Ps...>::limits, typename policies<Ps...>::globals>;

} // namespace v0
} // namespace ptload

#endif
