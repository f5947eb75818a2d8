// pickle/keys.hpp: Python's dict and set semantics for values in a document: a key that is
// set twice keeps its first position and takes the new value, 1 == 1.0 == True, unhashable
// keys (lists, dicts, sets, bytearrays) are an error, and lookups stay O(1) for big dicts.
#ifndef PTLOAD_PICKLE_KEYS_HPP
#define PTLOAD_PICKLE_KEYS_HPP

#include "../error.hpp"
#include "../value.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ptload {
inline namespace v0 {
namespace pickle {

/// Hash and equality of hashable values, and per-container open-addressing indexes.
class key_index {
public:
    explicit key_index(document& doc) : doc_(doc) {}

    /// dict[key] = val (dict or ordered_dict).
    status set(node_id dict, node_id key, node_id val) {
        std::uint64_t h;
        PTLOAD_TRY(hash_of(key, h));
        std::size_t pos = find(dict, key, h, 2);
        if (pos != npos) {
            doc_.set_edge(dict, 2 * pos + 1, val);
            return {};
        }
        node_id kv[2] = {key, val};
        doc_.push_edges(dict, kv, 2);
        note(dict, h, 2);
        return {};
    }
    /// set.add(item).
    status add(node_id set, node_id item) {
        std::uint64_t h;
        PTLOAD_TRY(hash_of(item, h));
        if (find(set, item, h, 1) != npos) return {};
        doc_.push_edge(set, item);
        note(set, h, 1);
        return {};
    }

private:
    static constexpr std::size_t npos = ~std::size_t{0};
    static constexpr std::size_t linear_limit = 8;  // below this, scanning beats hashing
    static constexpr int max_depth = 64;             // key nesting beyond this compares by identity

    struct table {
        std::vector<std::uint32_t> slots;  // entry index + 1; 0 = empty
        std::vector<std::uint64_t> hashes; // per entry
    };

    static std::uint64_t mix(std::uint64_t x) {
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdull;
        x ^= x >> 33;
        x *= 0xc4ceb9fe1a85ec53ull;
        x ^= x >> 33;
        return x;
    }
    static std::uint64_t hash_bytes(std::string_view s, std::uint64_t seed) {
        std::uint64_t h = seed ^ (s.size() * 0x9E3779B97F4A7C15ull);
        std::size_t i = 0;
        for (; i + 8 <= s.size(); i += 8) {
            std::uint64_t w;
            std::memcpy(&w, s.data() + i, 8);
            h = mix(h ^ w) * 31;
        }
        std::uint64_t tail = 0;
        std::memcpy(&tail, s.data() + i, s.size() - i);
        return mix(h ^ tail);
    }
    /// Python numbers that compare equal hash equal: integral floats hash as their int.
    static bool float_as_int(double f, std::int64_t& out) {
        if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0) || f != std::floor(f)) return false;
        out = static_cast<std::int64_t>(f);
        return true;
    }

    status hash_of(node_id id, std::uint64_t& h, int depth = 0) const {
        const auto& n = doc_.at(id);
        switch (n.k) {
        case kind::none: h = 0x4e6f6e65; return {};
        case kind::boolean:
        case kind::integer: h = mix(static_cast<std::uint64_t>(n.i)); return {};
        case kind::floating: {
            std::int64_t i;
            if (float_as_int(n.f, i)) h = mix(static_cast<std::uint64_t>(i));
            else {
                std::uint64_t bits;
                std::memcpy(&bits, &n.f, 8);
                h = mix(bits ^ 0xF10A7);
            }
            return {};
        }
        case kind::complex: {
            std::uint64_t a, b;
            std::memcpy(&a, &n.c.re, 8);
            std::memcpy(&b, &n.c.im, 8);
            h = mix(a ^ mix(b));
            return {};
        }
        case kind::string: h = hash_bytes(doc_.text(id), 1); return {};
        case kind::bytes: h = hash_bytes(doc_.text(id), 2); return {};
        case kind::big_integer: h = hash_bytes(doc_.text(id), 3); return {};
        case kind::global:
        case kind::device:
        case kind::numpy_dtype: h = hash_bytes(doc_.text(id), 4 + static_cast<int>(n.k)); return {};
        case kind::dtype: h = mix(0xD7 ^ n.tag); return {};
        case kind::tuple:
        case kind::frozenset:
        case kind::torch_size: {
            h = mix(static_cast<std::uint64_t>(n.k) + doc_.edge_count(id));
            if (depth >= max_depth) return {};
            for (std::size_t i = 0; i < doc_.edge_count(id); ++i) {
                std::uint64_t e;
                PTLOAD_TRY(hash_of(doc_.edge(id, i), e, depth + 1));
                h = n.k == kind::frozenset ? h + mix(e) : mix(h * 1000003 ^ e);  // frozensets are unordered
            }
            return {};
        }
        case kind::list: case kind::dict: case kind::ordered_dict: case kind::set: case kind::bytearray:
        case kind::ndarray: case kind::slice:
            return make_error(errc::bad_operand, no_offset, std::string("unhashable type: '") + kind_name(n.k) + "'");
        default: h = mix(0xA11CE ^ id); return {};  // identity-hashed objects
        }
    }

    bool equal(node_id a, node_id b, int depth = 0) const {
        if (a == b) return true;  // Python compares identity first
        const auto& x = doc_.at(a);
        const auto& y = doc_.at(b);
        bool xnum = x.k == kind::integer || x.k == kind::boolean, ynum = y.k == kind::integer || y.k == kind::boolean;
        if (xnum && ynum) return x.i == y.i;
        std::int64_t i;
        if (xnum && y.k == kind::floating) return float_as_int(y.f, i) && i == x.i;
        if (ynum && x.k == kind::floating) return float_as_int(x.f, i) && i == y.i;
        if (x.k != y.k) return false;
        switch (x.k) {
        case kind::none: return true;
        case kind::floating: return x.f == y.f;
        case kind::complex: return x.c.re == y.c.re && x.c.im == y.c.im;
        case kind::string: case kind::bytes: case kind::big_integer: case kind::global: case kind::device:
        case kind::numpy_dtype:
            return doc_.text(a) == doc_.text(b);
        case kind::dtype: return x.tag == y.tag;
        case kind::tuple:
        case kind::torch_size: {
            if (depth >= max_depth || doc_.edge_count(a) != doc_.edge_count(b)) return false;
            for (std::size_t k = 0; k < doc_.edge_count(a); ++k)
                if (!equal(doc_.edge(a, k), doc_.edge(b, k), depth + 1)) return false;
            return true;
        }
        case kind::frozenset: {
            if (depth >= max_depth || doc_.edge_count(a) != doc_.edge_count(b)) return false;
            for (std::size_t k = 0; k < doc_.edge_count(a); ++k) {
                bool found = false;
                for (std::size_t j = 0; j < doc_.edge_count(b) && !found; ++j)
                    found = equal(doc_.edge(a, k), doc_.edge(b, j), depth + 1);
                if (!found) return false;
            }
            return true;
        }
        default: return false;
        }
    }

    /// Entry index of `key` in the container (stride 2 for dicts, 1 for sets), or npos.
    std::size_t find(node_id c, node_id key, std::uint64_t h, std::size_t stride) {
        std::size_t count = doc_.edge_count(c) / stride;
        auto it = tables_.find(c);
        if (it == tables_.end()) {
            if (count < linear_limit) {
                for (std::size_t i = 0; i < count; ++i)
                    if (equal(doc_.edge(c, i * stride), key)) return i;
                return npos;
            }
            it = build(c, stride);
        }
        table& t = it->second;
        std::size_t mask = t.slots.size() - 1;
        for (std::size_t s = h & mask;; s = (s + 1) & mask) {
            std::uint32_t e = t.slots[s];
            if (!e) return npos;
            if (t.hashes[e - 1] == h && equal(doc_.edge(c, (e - 1) * stride), key)) return e - 1;
        }
    }
    std::unordered_map<node_id, table>::iterator build(node_id c, std::size_t stride) {
        table& t = tables_[c];
        std::size_t count = doc_.edge_count(c) / stride;
        t.hashes.reserve(count * 2);
        for (std::size_t i = 0; i < count; ++i) {
            std::uint64_t h = 0;
            (void)hash_of(doc_.edge(c, i * stride), h);  // keys already in the container were hashable
            t.hashes.push_back(h);
        }
        rehash(t, 64);
        return tables_.find(c);
    }
    static void rehash(table& t, std::size_t min_slots) {
        std::size_t slots = min_slots;
        while (slots < t.hashes.size() * 2 + 2) slots *= 2;
        t.slots.assign(slots, 0);
        for (std::size_t i = 0; i < t.hashes.size(); ++i) {
            std::size_t s = t.hashes[i] & (slots - 1);
            while (t.slots[s]) s = (s + 1) & (slots - 1);
            t.slots[s] = static_cast<std::uint32_t>(i + 1);
        }
    }
    /// Records a new last entry with hash h in the container's index, if it has one.
    void note(node_id c, std::uint64_t h, std::size_t stride) {
        auto it = tables_.find(c);
        if (it == tables_.end()) {
            if (doc_.edge_count(c) / stride >= linear_limit) build(c, stride);
            return;
        }
        table& t = it->second;
        t.hashes.push_back(h);
        if (t.hashes.size() * 2 > t.slots.size()) {
            rehash(t, t.slots.size() * 2);
            return;
        }
        std::size_t mask = t.slots.size() - 1, s = h & mask;
        while (t.slots[s]) s = (s + 1) & mask;
        t.slots[s] = static_cast<std::uint32_t>(t.hashes.size());
    }

    document& doc_;
    std::unordered_map<node_id, table> tables_;
};

} // namespace pickle
} // namespace v0
} // namespace ptload

#endif
