// torch/globals.hpp: the globals torch's loader gives a meaning to (FORMAT.md 5): its rebuild
// functions, torch.Size, torch.device, Tensor and Parameter, storage classes, dtypes, qschemes,
// layouts, nested streams and TorchScript's type tags. The pickle layer resolves and rates a
// name (pickle/globals.hpp); this table says what torch makes of the resolved name, and the
// torch handler (torch/rebuild.hpp) acts on it.
#ifndef PTLOAD_TORCH_GLOBALS_HPP
#define PTLOAD_TORCH_GLOBALS_HPP

#include "../config.hpp"
#include "../pickle/globals.hpp"
#include "../value.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace ptload {
inline namespace v0 {

/// What torch makes of a global. `none`: nothing (an ordinary global). The torch handler keeps
/// it in the document as the global value's handler id (torch_global_of), so the canonical
/// JSON can tell layouts and qschemes, which torch treats as values of their own, from classes.
enum class torch_global : std::uint8_t {
    none,
    rebuild_tensor, rebuild_tensor_v2, rebuild_tensor_v3, rebuild_parameter, rebuild_parameter_with_state,
    rebuild_qtensor, rebuild_sparse_tensor, rebuild_sparse_csr_tensor, rebuild_nested_tensor,
    rebuild_meta_tensor_no_storage, rebuild_wrapper_subclass, rebuild_device_tensor_from_numpy,
    rebuild_device_tensor_from_cpu_tensor, rebuild_from_type_v2, rebuild_from_type,
    size, device, tensor, parameter,
    get_layout,                ///< torch.serialization._get_layout, and the layouts it returns
    load_from_bytes,           ///< torch.storage._load_from_bytes: a nested torch stream
    storage_class,             ///< torch.FloatStorage ... (dtype by name), typed/untyped storages
    dtype_name,                ///< torch.<name>: a dtype when <name> is one (torch.float32 ...)
    qscheme,                   ///< torch.per_tensor_affine ...
    jit_identity,              ///< torch.jit._pickle.build_intlist/... and restore_type_tag: return arg 0
    count_
};

struct torch_global_row {
    std::string_view module, name;
    torch_global id;
};

// clang-format off
inline constexpr torch_global_row torch_globals[] = {
    {"torch._utils"sv, "_rebuild_tensor"sv, torch_global::rebuild_tensor},
    {"torch._utils"sv, "_rebuild_tensor_v2"sv, torch_global::rebuild_tensor_v2},
    {"torch._utils"sv, "_rebuild_tensor_v3"sv, torch_global::rebuild_tensor_v3},
    {"torch._utils"sv, "_rebuild_parameter"sv, torch_global::rebuild_parameter},
    {"torch._utils"sv, "_rebuild_parameter_with_state"sv, torch_global::rebuild_parameter_with_state},
    {"torch._utils"sv, "_rebuild_qtensor"sv, torch_global::rebuild_qtensor},
    {"torch._utils"sv, "_rebuild_sparse_tensor"sv, torch_global::rebuild_sparse_tensor},
    {"torch._utils"sv, "_rebuild_sparse_csr_tensor"sv, torch_global::rebuild_sparse_csr_tensor},
    {"torch._utils"sv, "_rebuild_nested_tensor"sv, torch_global::rebuild_nested_tensor},
    {"torch._utils"sv, "_rebuild_meta_tensor_no_storage"sv, torch_global::rebuild_meta_tensor_no_storage},
    {"torch._utils"sv, "_rebuild_wrapper_subclass"sv, torch_global::rebuild_wrapper_subclass},
    {"torch._utils"sv, "_rebuild_device_tensor_from_numpy"sv, torch_global::rebuild_device_tensor_from_numpy},
    {"torch._utils"sv, "_rebuild_xla_tensor"sv, torch_global::rebuild_device_tensor_from_numpy},
    {"torch._utils"sv, "_rebuild_device_tensor_from_cpu_tensor"sv, torch_global::rebuild_device_tensor_from_cpu_tensor},
    {"torch._tensor"sv, "_rebuild_from_type_v2"sv, torch_global::rebuild_from_type_v2},
    {"torch._tensor"sv, "_rebuild_from_type"sv, torch_global::rebuild_from_type},
    {"torch"sv, "Size"sv, torch_global::size},
    {"torch"sv, "device"sv, torch_global::device},
    {"torch"sv, "Tensor"sv, torch_global::tensor},
    {"torch._tensor"sv, "Tensor"sv, torch_global::tensor},
    {"torch.nn.parameter"sv, "Parameter"sv, torch_global::parameter},
    {"torch.serialization"sv, "_get_layout"sv, torch_global::get_layout},
    {"torch.storage"sv, "_load_from_bytes"sv, torch_global::load_from_bytes},
    {"torch.storage"sv, "UntypedStorage"sv, torch_global::storage_class},
    {"torch.storage"sv, "TypedStorage"sv, torch_global::storage_class},
    {"torch"sv, "UntypedStorage"sv, torch_global::storage_class},
    {"torch"sv, "TypedStorage"sv, torch_global::storage_class},
    {"torch"sv, "per_tensor_affine"sv, torch_global::qscheme},
    {"torch"sv, "per_channel_affine"sv, torch_global::qscheme},
    {"torch"sv, "per_tensor_symmetric"sv, torch_global::qscheme},
    {"torch"sv, "per_channel_symmetric"sv, torch_global::qscheme},
    {"torch"sv, "per_channel_affine_float_qparams"sv, torch_global::qscheme},
    {"torch.jit._pickle"sv, "build_intlist"sv, torch_global::jit_identity},
    {"torch.jit._pickle"sv, "build_tensorlist"sv, torch_global::jit_identity},
    {"torch.jit._pickle"sv, "build_doublelist"sv, torch_global::jit_identity},
    {"torch.jit._pickle"sv, "build_boollist"sv, torch_global::jit_identity},
    {"torch.jit._pickle"sv, "build_tensor_from_id"sv, torch_global::jit_identity},
    {"torch.jit._pickle"sv, "restore_type_tag"sv, torch_global::jit_identity},
};
// clang-format on

/// What torch makes of a resolved global: its row in torch_globals (matched as
/// pickle::names_global matches); else, for an undotted name, a storage class when a `torch*`
/// module's name ends in "Storage" (torch maps these by name, module ignored, e.g.
/// torch.cuda.FloatStorage in old files) and a possible dtype for any other `torch.<name>`.
/// A dangerous global is nothing: the machine refuses it before anyone asks.
inline torch_global find_torch_global(const pickle::resolved_global& g) noexcept {
    if (g.dangerous) return torch_global::none;
    for (const auto& row : torch_globals)
        if (pickle::names_global(g, row.module, row.name)) return row.id;
    if (g.name.find('.') != std::string::npos) return torch_global::none;
    if (g.module.compare(0, 5, "torch") == 0 && g.name.size() > 7 && g.name.compare(g.name.size() - 7, 7, "Storage") == 0)
        return torch_global::storage_class;
    if (g.module == "torch") return torch_global::dtype_name;
    return torch_global::none;
}

/// What torch makes of a value: the torch_global the torch handler gave a global, none for an
/// ordinary global and for any other kind.
inline torch_global torch_global_of(const document_data& doc, node_id id) noexcept {
    return static_cast<torch_global>(doc.handler_global_id(id));
}

namespace detail {
/// The torch handler's side of torch_global_of: `global` is a global value.
inline void set_torch_global(document_data& doc, node_id global, torch_global t) noexcept {
    doc.set_handler_global_id(global, static_cast<std::uint8_t>(t));
}
} // namespace detail

} // namespace v0
} // namespace ptload

#endif
