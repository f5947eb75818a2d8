// torch/location.hpp: torch.load's parameters other than the file: map_location, location tags
// registered by users (torch.serialization.register_package) and out-of-band buffers.
//
//     ptload::load_options opt;
//     opt.map_location = "cpu";                          // one device for every storage
//     opt.map_remap = {{"cuda:0", "cuda:1"}};            // a dict: tag -> tag
//     opt.map_callable = [](const ptload::storage_description& d, std::string& dev) {
//         dev = d.numel > 1000000 ? "cuda:0" : "cpu"; return true; };   // a callable
// ptload never moves bytes to a device: the device string is what tensors report and what
// the allocator policy receives, so a user allocator can place the bytes where it wants.
#ifndef PTLOAD_TORCH_LOCATION_HPP
#define PTLOAD_TORCH_LOCATION_HPP

#include "../callback.hpp"
#include "../error.hpp"
#include "../span.hpp"
#include "storage.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ptload {
inline namespace v0 {

/// A user handler for location tags, as register_package's deserializer: return true and set
/// `device` to claim the storage, false to let the next handler (or the default) decide.
using location_handler = callback<bool(const storage_description& d, std::string_view tag, std::string& device)>;

/// Everything torch.load takes besides the file and the policies.
struct load_options {
    /// map_location as one device string ("cpu", "cuda:1"); empty = not given.
    std::string map_location;
    /// map_location as a dict: saved tag -> tag, then the default handling.
    std::vector<std::pair<std::string, std::string>> map_remap;
    /// map_location as a callable: return true and set the device to decide, false for the default.
    callback<bool(const storage_description& d, std::string& device)> map_callable;
    /// Passed to the allocator policy with every storage.
    void* allocator_context = nullptr;
    /// Out-of-band buffers for pickle protocol 5's NEXT_BUFFER, in order.
    span<const span<const std::uint8_t>> buffers;
    /// When storage bytes are read: eager (all, before load returns), lazy (on first access;
    /// the source must be given to the document: by value, or through open_file) or mapped
    /// (in place in a memory source, e.g. mmap_source).
    storage_mode storages = storage_mode::eager;
    /// Check CRC-32 of zip records that carry one (torch does not; costs a pass over the data).
    bool check_crc = false;
    /// Take torch.save's opcodes for one tensor (the thirty or so of each entry of a state_dict)
    /// in one step instead of one by one: the same document, memo and errors either way; for a
    /// checkpoint of many small tensors two fifths fewer instructions in its pickle, a sixth in
    /// the whole load. Off runs every opcode through the pickle machine, for comparing the two.
    bool fused_runs = true;
    /// Told as storages are read in a batch (all of them, in eager and mapped mode before load
    /// returns; by document::fetch_all later): `done` of `total` bytes, first with done = 0,
    /// then after each storage, last with done == total. Storages read one by one on first
    /// access in lazy mode are not reported, nor are the storages of torch 0.1's tar format
    /// (read with the archive's members). A plain function and a context, so an engine can
    /// show its own progress bar without ptload allocating anything for it; a lazy document
    /// keeps both for fetch_all, so the context must outlive it (or its close_source()).
    void (*progress)(void* context, std::uint64_t done, std::uint64_t total) = nullptr;
    void* progress_context = nullptr;
    /// Strict mode (ptload::strict) only: globals allowed beyond the default allowlist, as
    /// "module.name" (torch.serialization.add_safe_globals), e.g. "argparse.Namespace".
    /// Dangerous globals stay refused.
    std::vector<std::string> safe_globals;

    /// register_package(priority, tagger, deserializer): lower priorities are asked first. A
    /// template only so that a file that includes ptload without registering a handler does
    /// not compile std::vector's growth for it.
    template <class = void>
    void register_location(int priority, location_handler handler) {
        // Kept in order as they come (a few at most): the new one goes after every handler of
        // its priority or a lower one.
        handlers_.push_back({priority, std::move(handler)});
        for (std::size_t i = handlers_.size() - 1; i > 0 && handlers_[i - 1].priority > priority; --i)
            std::swap(handlers_[i - 1], handlers_[i]);
    }

    /// Whether register_location gave any handler.
    bool has_location_handlers() const noexcept { return !handlers_.empty(); }

    /// Where a storage goes: map_location first, then registered handlers, then the tags torch
    /// itself knows (kept as they are); an unknown tag is an error, as in torch. The device is a
    /// view of these options, of d.location or of `scratch` (where a callable wrote it).
    result<std::string_view> resolve_device(const storage_description& d, std::string& scratch) const {
        if (map_callable && map_callable(d, scratch)) return std::string_view(scratch);
        if (!map_location.empty()) return std::string_view(map_location);
        std::string_view tag = d.location;
        for (const auto& kv : map_remap)
            if (kv.first == tag) {
                tag = kv.second;
                break;
            }
        for (const auto& h : handlers_)
            if (h.handler(d, tag, scratch)) return std::string_view(scratch);
        if (known_tag(tag)) return tag;
        return detail::failure(errc::bad_storage, no_offset,
                               {"don't know how to restore data location tagged '", tag,
                                "'; give map_location or register a location handler"},
                               "storage " + std::string(d.key));
    }

    /// Device types torch's own deserializers accept ("cuda", "cuda:1", "privateuseone:0", ...).
    static bool known_tag(std::string_view tag) {
        std::string_view type = tag.substr(0, tag.find(':'));
        if (type.size() < tag.size()) {
            std::string_view index = tag.substr(type.size() + 1);
            if (index.empty() || index.find_first_not_of("0123456789") != std::string_view::npos) return false;
        }
        static constexpr std::string_view types[] = {"cpu", "cuda", "mps", "meta", "hpu", "xpu", "mtia", "xla",
                                                     "ipu", "ort", "vulkan", "maia", "privateuseone", "lazy", "ve"};
        for (auto t : types)
            if (t == type) return true;
        return false;
    }

private:
    struct registered {
        int priority;
        location_handler handler;
    };
    std::vector<registered> handlers_;
};

} // namespace v0
} // namespace ptload

#endif
