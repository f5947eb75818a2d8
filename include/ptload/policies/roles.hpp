// policies/roles.hpp: the role markers a policy type carries (`using ptload_role = ...`).
#ifndef PTLOAD_POLICIES_ROLES_HPP
#define PTLOAD_POLICIES_ROLES_HPP

#include "../config.hpp"

namespace ptload {
inline namespace v0 {
namespace role {
/// String decoding of Python-2 `str` (torch.load's `encoding`/`errors`).
struct decoding {};
/// Where storage bytes go (the allocator half of map_location).
struct allocator {};
/// Resource limits against hostile files.
struct limits {};
/// Which globals a pickle may name (permissive or strict).
struct globals {};
} // namespace role
} // namespace v0
} // namespace ptload

#endif
