// torch/tensor.hpp: a loaded tensor: metadata, bounds-checked access to its elements, and
// conversion of the narrow float formats (float16, bfloat16, float8) to float32.
//
//     auto t = doc.root()["state_dict"]["fc.weight"].as_tensor();
//     if (t && t->is_contiguous()) { auto w = t->data<float>(); ... }
#ifndef PTLOAD_TORCH_TENSOR_HPP
#define PTLOAD_TORCH_TENSOR_HPP

#include "../detail/checked.hpp"
#include "../detail/vector.hpp"
#include "../error.hpp"
#include "../memory.hpp"
#include "../policies/limits.hpp"
#include "../span.hpp"
#include "../value.hpp"
#include "dtype.hpp"
#include "float_convert.hpp"

#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace ptload {
inline namespace v0 {

/// A strided view of one storage. Cheap to copy; it keeps the document's contents (and a
/// source that storages point into) alive, so it stays valid after the document is gone.
class tensor {
public:
    tensor(const document_data* doc, std::uint32_t record) noexcept
        : doc_(doc), rec_(&doc->tensor_at(record)), keep_(detail::shared<const document_data>::share(doc)) {}

    ptload::dtype dtype() const noexcept { return rec_->type; }
    std::size_t rank() const noexcept { return rec_->rank; }
    span<const std::int64_t> shape() const noexcept { return {doc_->dims(rec_->dims), rec_->rank}; }
    span<const std::int64_t> strides() const noexcept { return {doc_->dims(rec_->dims) + rec_->rank, rec_->rank}; }
    /// Storage offset in elements.
    std::int64_t offset() const noexcept { return rec_->offset; }
    std::string_view device() const noexcept { return rec_->device; }
    bool requires_grad() const noexcept { return rec_->requires_grad; }
    bool is_parameter() const noexcept { return rec_->parameter; }
    /// conj/neg view bits (tensor metadata): the logical values are the conjugate / negation of
    /// the stored ones. bytes(), data() and contiguous_copy() give stored values; to_float32()
    /// gives logical ones.
    bool is_conj() const noexcept { return rec_->conj; }
    bool is_neg() const noexcept { return rec_->neg; }
    qscheme quantization() const noexcept { return rec_->quant; }
    double q_scale() const noexcept { return rec_->scale; }
    std::int64_t q_zero_point() const noexcept { return rec_->zero_point; }
    /// Python attributes (tensor subclasses, _rebuild_from_type_v2 state); invalid when none.
    value attrs() const noexcept { return value(doc_, rec_->attrs); }
    /// Number of elements (product of the shape).
    std::uint64_t numel() const noexcept {
        std::uint64_t n = 1;
        for (auto d : shape()) n *= static_cast<std::uint64_t>(d);  // validated not to overflow at load
        return n;
    }
    /// Meta tensors and storage-less wrapper subclasses have no data.
    bool has_storage() const noexcept { return rec_->storage != null_node; }
    /// Index of the storage in the document: tensors with equal indices share memory.
    std::uint32_t storage_index() const noexcept { return rec_->storage; }
    /// Bytes of the whole storage this tensor views (may be larger than the tensor), known
    /// without reading them.
    std::uint64_t storage_nbytes() const noexcept { return has_storage() ? doc_->storage_at(rec_->storage).nbytes() : 0; }
    /// Whether the storage's bytes are in memory (always after an eager load).
    bool is_resident() const noexcept { return has_storage() && doc_->storage_at(rec_->storage).resident; }
    /// Whether the storage's bytes are the source's own (mapped mode, no copy made).
    bool is_mapped() const noexcept { return has_storage() && doc_->storage_at(rec_->storage).mapped; }
    /// The whole storage this tensor views, read from the source now if a lazy load left it
    /// there.
    result<span<const std::uint8_t>> storage_data() const {
        if (!has_storage()) return detail::failure(errc::bad_tensor, no_offset, "tensor has no storage (meta tensor)");
        return doc_->storage_data(rec_->storage);
    }
    /// storage_data(), or no bytes when there is no storage or it cannot be read.
    span<const std::uint8_t> storage_bytes() const noexcept {
        if (!has_storage()) return {};
        auto d = doc_->storage_data(rec_->storage);
        return d ? *d : span<const std::uint8_t>{};
    }
    /// Row-major with no gaps (size-1 dimensions may have any stride, as in torch).
    bool is_contiguous() const noexcept {
        std::int64_t expected = 1;
        for (std::size_t i = rank(); i-- > 0;) {
            if (shape()[i] == 1) continue;
            if (shape()[i] == 0) return true;
            if (strides()[i] != expected) return false;
            expected *= shape()[i];
        }
        return true;
    }
    /// The element bytes of a contiguous tensor, in place.
    result<span<const std::uint8_t>> bytes() const {
        if (!has_storage()) return detail::failure(errc::bad_tensor, no_offset, "tensor has no storage (meta tensor)");
        if (!is_contiguous()) return detail::failure(errc::bad_tensor, no_offset, "tensor is not contiguous; use contiguous_copy()");
        if (values_per_byte(dtype()) > 1) return packed_error();
        std::uint64_t esize = element_size(dtype());
        std::uint64_t n = numel();
        auto all = storage_data();
        if (!all) return std::move(all).pass_error();
        std::uint64_t begin = n ? static_cast<std::uint64_t>(offset()) * esize : 0;
        if (begin > all->size() || n * esize > all->size() - begin)
            return detail::failure(errc::bad_tensor, no_offset, "tensor runs past its storage");
        return span<const std::uint8_t>(all->data() + begin, static_cast<std::size_t>(n * esize));
    }
    /// The elements in row-major order into dst[0, n), n being numel x element size. Nothing
    /// is kept: a contiguous tensor whose storage a lazy load left in the source is read
    /// straight into dst, a strided view of such a storage reads the span of it the view
    /// touches into a scratch buffer freed on return, and others are copied from the resident
    /// storage. A broadcast view is bounded as contiguous_copy bounds it.
    status read_into(void* dst, std::size_t n, std::uint64_t max_expansion = default_limits::max_view_expansion) const {
        if (!has_storage()) return detail::failure(errc::bad_tensor, no_offset, "tensor has no storage (meta tensor)");
        if (values_per_byte(dtype()) > 1 && (!is_contiguous() || offset() % static_cast<std::int64_t>(values_per_byte(dtype()))))
            return packed_error();
        std::uint64_t total = 0;
        std::uint64_t per_byte = values_per_byte(dtype());
        std::uint64_t esize = element_size(dtype());
        if (!detail::checked_mul((numel() + per_byte - 1) / per_byte, esize, total) || total != n)
            return detail::failure(errc::invalid_argument, no_offset,
                                   {"read_into needs a buffer of exactly ", total, " bytes, got ", n});
        if (is_contiguous()) {
            std::uint64_t begin = numel() ? static_cast<std::uint64_t>(offset()) * esize / per_byte : 0;
            return doc_->read_storage_range(rec_->storage, begin, dst, n);
        }
        PTLOAD_TRY(check_expansion(max_expansion, total));
        if (!n) return {};
        auto* out = static_cast<std::uint8_t*>(dst);
        // base holds the storage's elements from position `first` on.
        auto gather = [&](const std::uint8_t* base, std::int64_t first) {
            for_each_position([&](std::int64_t pos) {
                std::memcpy(out, base + static_cast<std::size_t>(pos - first) * esize, static_cast<std::size_t>(esize));
                out += esize;
            });
        };
        if (is_resident()) {
            auto all = storage_data();
            if (!all) return std::move(all).pass_error();
            gather(all->data(), 0);
            return {};
        }
        // The lowest and highest storage positions the view touches (the load checked that
        // they lie within the storage; the read checks it again).
        std::int64_t lo = offset(), hi = offset();
        for (std::size_t i = 0; i < rank(); ++i) {
            const std::int64_t reach = strides()[i] * (shape()[i] - 1);
            (reach < 0 ? lo : hi) += reach;
        }
        std::uint64_t span_bytes = 0;
        if (lo < 0 || !detail::checked_mul(static_cast<std::uint64_t>(hi - lo) + 1, esize, span_bytes) || span_bytes > SIZE_MAX)
            return detail::failure(errc::bad_tensor, no_offset, "tensor runs past its storage");
        detail::unique_array<std::uint8_t> scratch = detail::try_make_array<std::uint8_t>(static_cast<std::size_t>(span_bytes));
        if (!scratch) return detail::failure(errc::io_error, no_offset, {"no memory for ", span_bytes, " bytes"});
        PTLOAD_TRY(doc_->read_storage_range(rec_->storage, static_cast<std::uint64_t>(lo) * esize, scratch.get(),
                                            static_cast<std::size_t>(span_bytes)));
        gather(scratch.get(), lo);
        return {};
    }
    /// The bytes a row-major copy of the elements takes (numel x element size), or the error
    /// that refuses it as contiguous_copy does: past the address space (limit_tensor), or a
    /// broadcast view beyond max_expansion x its storage's bytes + limits::view_slack (limit_view).
    result<std::uint64_t> contiguous_nbytes(std::uint64_t max_expansion = default_limits::max_view_expansion) const {
        std::uint64_t total = 0;
        PTLOAD_TRY(check_expansion(max_expansion, total));
        return total;
    }
    /// Typed elements of a contiguous tensor. T must fit the dtype: a floating type its float
    /// dtype of that size (float for float32, double for float64), bool for bool, a signed
    /// integer a signed integer (or qint) dtype of its size; an unsigned integer reads the raw
    /// bits of any dtype of its size (std::uint16_t for float16 and bfloat16), and other types
    /// (std::complex<float>, a user's struct) any dtype of their size.
    template <class T>
    result<span<const T>> data() const {
        if (!element_type_fits<T>(dtype()))
            return detail::failure(errc::wrong_kind, no_offset,
                                   {"a ", sizeof(T), "-byte ", element_kind<T>(), "element type does not read ",
                                    name(dtype()), " (", element_size(dtype()), " bytes per element)"});
        auto b = bytes();
        if (!b) return std::move(b).pass_error();
        if (reinterpret_cast<std::uintptr_t>(b->data()) % alignof(T))
            return detail::failure(errc::bad_tensor, no_offset, "tensor data is not aligned for this element type");
        return span<const T>(reinterpret_cast<const T*>(b->data()), b->size() / sizeof(T));
    }
    /// Calls f(std::int64_t position) with the storage position of every element, row-major.
    template <class F>
    void for_each_position(F&& f) const {
        std::uint64_t n = numel();
        if (!n || !has_storage()) return;
        std::size_t r = rank();
        detail::vector<std::int64_t> index(r, 0);
        std::int64_t pos = offset();
        for (std::uint64_t done = 0; done < n; ++done) {
            f(pos);
            for (std::size_t d = r; d-- > 0;) {  // odometer increment
                pos += strides()[d];
                if (++index[d] < shape()[d]) break;
                pos -= strides()[d] * shape()[d];
                index[d] = 0;
            }
        }
    }
    /// Calls f(const std::uint8_t* element) for every element in row-major order (not for the
    /// packed quint4x2/quint2x4, whose elements are bit fields: see packed_value); fails, with
    /// no call, when the storage cannot be read.
    template <class F>
    status for_each_element(F&& f) const {
        if (!has_storage()) return {};
        // Positions of packed dtypes count values, several per byte: as byte offsets they
        // would run past the storage.
        if (values_per_byte(dtype()) > 1) return packed_error();
        auto all = storage_data();
        if (!all) return std::move(all).pass_error();
        const std::uint8_t* base = all->data();
        std::size_t esize = element_size(dtype());
        for_each_position([&](std::int64_t pos) { f(base + static_cast<std::size_t>(pos) * esize); });
        return {};
    }
    /// The integer stored for a packed sub-byte element (quint4x2, quint2x4), low bits first;
    /// 0 when the storage cannot be read or `pos` (a value position, as for_each_position
    /// gives) lies outside it.
    std::uint8_t packed_value(std::int64_t pos) const noexcept {
        std::size_t per = values_per_byte(dtype());
        std::size_t bits = 8 / per;
        auto all = storage_bytes();
        if (pos < 0 || static_cast<std::uint64_t>(pos) / per >= all.size()) return 0;
        std::uint8_t byte = all[static_cast<std::size_t>(pos) / per];
        return static_cast<std::uint8_t>((byte >> (bits * (static_cast<std::size_t>(pos) % per))) & ((1u << bits) - 1));
    }
    /// The elements in row-major order, packed (a `.contiguous()` copy). A broadcast view
    /// (zero or overlapping strides) may be far larger than its storage: beyond
    /// `max_expansion` x the storage bytes + limits::view_slack the copy is refused
    /// (errc::limit_view) unless asked for. (This and to_float32 are templates only so that a
    /// file that includes ptload without calling them does not compile std::vector's code.)
    template <class = void>
    result<std::vector<std::uint8_t>> contiguous_copy(std::uint64_t max_expansion = default_limits::max_view_expansion) const {
        if (!has_storage()) return detail::failure(errc::bad_tensor, no_offset, "tensor has no storage (meta tensor)");
        if (values_per_byte(dtype()) > 1) return packed_error();
        std::size_t esize = element_size(dtype());
        std::uint64_t total = 0;
        PTLOAD_TRY(check_expansion(max_expansion, total));
        std::vector<std::uint8_t> out;
        out.reserve(static_cast<std::size_t>(total));
        PTLOAD_TRY(for_each_element([&](const std::uint8_t* e) { out.insert(out.end(), e, e + esize); }));
        return out;
    }
    /// Elements converted to float32 in row-major order (floating dtypes, integers and bool),
    /// with the neg bit applied; the same expansion bound as contiguous_copy.
    template <class = void>
    result<std::vector<float>> to_float32(std::uint64_t max_expansion = default_limits::max_view_expansion) const {
        if (!has_storage()) return detail::failure(errc::bad_tensor, no_offset, "tensor has no storage (meta tensor)");
        std::uint64_t total = 0;
        PTLOAD_TRY(check_expansion(max_expansion, total));
        ptload::dtype t = dtype();
        const dtype_info& inf = info(t);
        if (inf.cls != dtype_class::floating && inf.cls != dtype_class::integer && inf.cls != dtype_class::unsigned_integer &&
            inf.cls != dtype_class::boolean)
            return detail::failure(errc::unsupported, no_offset, {"no float32 conversion for ", inf.name});
        std::vector<float> out;
        out.reserve(static_cast<std::size_t>(numel()));
        float sign = is_neg() ? -1.0f : 1.0f;
        PTLOAD_TRY(for_each_element([&](const std::uint8_t* e) { out.push_back(sign * detail::element_to_float(t, e)); }));
        return out;
    }

private:
    template <class T>
    static bool element_type_fits(ptload::dtype t) noexcept {
        if (sizeof(T) != element_size(t)) return false;
        const dtype_class c = info(t).cls;
        if constexpr (std::is_same<T, bool>::value) return c == dtype_class::boolean;
        else if constexpr (std::is_floating_point<T>::value) return c == dtype_class::floating;
        else if constexpr (std::is_integral<T>::value && std::is_signed<T>::value)
            return c == dtype_class::integer || c == dtype_class::quantized;
        else return true;  // unsigned integers: raw bits; other types: the caller's layout
    }
    template <class T>
    static const char* element_kind() noexcept {
        if constexpr (std::is_same<T, bool>::value) return "bool ";
        else if constexpr (std::is_floating_point<T>::value) return "floating ";
        else if constexpr (std::is_integral<T>::value && std::is_signed<T>::value) return "signed integer ";
        else return "";
    }
    static error packed_error() {
        return make_error(errc::unsupported, no_offset,
                          "quint4x2/quint2x4 pack several values per byte: read them with packed_value()");
    }
    status check_expansion(std::uint64_t max_expansion, std::uint64_t& total) const {
        std::uint64_t allowed = 0;
        if (!detail::checked_mul(numel(), static_cast<std::uint64_t>(element_size(dtype())), total) || total > SIZE_MAX)
            return detail::failure(errc::limit_tensor, no_offset, "tensor too large to materialise");
        if (!detail::checked_mul(storage_nbytes(), max_expansion, allowed) ||
            !detail::checked_add(allowed, default_limits::view_slack, allowed))
            allowed = ~std::uint64_t{0};
        if (total > allowed)
            return detail::failure(errc::limit_view, no_offset,
                                   {"materialising this view needs ", total, " bytes from a ", storage_nbytes(),
                                    "-byte storage (limits::max_view_expansion, view_slack); pass a larger "
                                    "max_expansion"});
        return {};
    }

    const document_data* doc_;
    const detail::tensor_record* rec_;
    detail::shared<const document_data> keep_;  // empty only for tensors made during the load
};

inline tensor document::tensor_at(std::size_t i) const noexcept { return tensor(d_.get(), static_cast<std::uint32_t>(i)); }

inline result<tensor> value::as_tensor() const {
    if (is(kind::tensor)) return tensor(doc_, doc_->tensor_index(id_));
    return detail::kind_error(*this, "tensor");
}

} // namespace v0
} // namespace ptload

#endif
