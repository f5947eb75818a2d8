// pickle/keys.hpp: Python's dict and set semantics for values in a document: a key that is
// set twice keeps its first position and takes the new value, 1 == 1.0 == True == 1+0j,
// unhashable keys (lists, dicts, sets, bytearrays) are an error, and lookups stay O(1) for big
// dicts.
#ifndef PTLOAD_PICKLE_KEYS_HPP
#define PTLOAD_PICKLE_KEYS_HPP

#include "../detail/flat_map.hpp"
#include "../detail/pod_vector.hpp"
#include "../detail/sort.hpp"
#include "../detail/vector.hpp"
#include "../error.hpp"
#include "../value.hpp"

#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>

namespace ptload {
inline namespace v0 {
namespace pickle {

/// Hash and equality of hashable values, and Python's "a key appears once" for dicts and sets.
///
/// Hashes start from the process's hash_seed(): a file cannot choose keys whose hashes collide
/// (unequal keys with equal hashes are compared one by one, so a crafted set of them would
/// make a merge quadratic).
///
/// Small containers are checked on every insert. Big ones (a state_dict, a 1M-entry dict)
/// would pay a cache miss per insert in a hash table, so their inserts only check that the key
/// is hashable and append; finish() then hashes the keys, finds repeated ones by sorting the
/// hashes and merges them as Python would have: the first key keeps its position and takes
/// the last value.
/// Nothing reads a big container's duplicates in between: the machine calls finish() at STOP.
///
/// A template only so that a file that includes ptload without loading does not compile it:
/// use it as key_index.
template <class = void>
class basic_key_index {
public:
    /// `max_depth`: nesting of a key hashed and compared part by part (limits::max_key_depth).
    basic_key_index(document_data& doc, std::size_t max_depth) : doc_(doc), max_depth_(max_depth) {}

    /// dict[key] = val (dict or ordered_dict).
    status set(node_id dict, node_id key, node_id val) { return insert(dict, key, val, 2); }
    /// set.add(item).
    status add(node_id set, node_id item) { return insert(set, item, null_node, 1); }
    /// dict[k] = v for the n pairs kv[0..2n) in order (SETITEMS): as set() pair by pair while
    /// the dict is small; once it is big, every key checked hashable and then all the pairs
    /// appended at once (a state_dict's SETITEMS carries a thousand).
    status set_pairs(node_id dict, const node_id* kv, std::size_t n) {
        std::size_t i = 0;
        for (; i < n && !is_big(dict); ++i) PTLOAD_TRY(insert(dict, kv[2 * i], kv[2 * i + 1], 2));
        if (i == n) return {};
        for (std::size_t j = i; j < n; ++j) PTLOAD_TRY(check_hashable(kv[2 * j]));
        doc_.push_edges(dict, kv + 2 * i, 2 * (n - i));
        return {};
    }

    /// Merges repeated keys of the big containers filled since the last call.
    status finish() {
        for (const auto& kv : big_) merge(kv.key, kv.value);
        big_.clear();
        last_big_ = null_node;
        return {};
    }

private:
    static constexpr std::size_t linear_limit = 8;  // below this, scanning beats hashing

    status insert(node_id c, node_id key, node_id val, std::size_t stride) {
        PTLOAD_TRY(check_hashable(key));  // unhashable keys fail here, at their opcode
        if (!is_big(c)) {
            std::size_t count = doc_.edge_count(c) / stride;
            for (std::size_t i = 0; i < count; ++i)
                if (equal(doc_.edge(c, i * stride), key)) {
                    if (stride == 2) doc_.set_edge(c, 2 * i + 1, val);
                    return {};
                }
            if (count + 1 >= linear_limit) {  // append from now on; the entries so far are distinct
                big_.insert(c, static_cast<std::uint32_t>(stride));
                last_big_ = c;
            }
        }
        if (stride == 2) {
            node_id kv[2] = {key, val};
            doc_.push_edges(c, kv, 2);
        } else {
            doc_.push_edge(c, key);
        }
        return {};
    }
    bool is_big(node_id c) {
        if (c == last_big_) return true;
        if (!big_.find(c)) return false;
        last_big_ = c;
        return true;
    }
    /// Fails as hash_of would, without hashing the scalars and text that always hash (the
    /// hashes of big containers' keys are taken at the merge, when the memo is gone, rather
    /// than held through the load). Every other kind goes through hash_of, which decides.
    status check_hashable(node_id key) const {
        switch (doc_.at(key).k) {
        case kind::none: case kind::boolean: case kind::integer: case kind::floating: case kind::complex:
        case kind::string: case kind::bytes: case kind::big_integer: case kind::global: case kind::device:
        case kind::numpy_dtype: case kind::dtype:
            return {};
        default: {
            std::uint64_t h;
            return hash_of(key, h);  // names what is unhashable
        }
        }
    }
    /// Finds entries with equal keys (equal hashes first, by a bucket pass on the top hash bits
    /// and small sorts), then keeps each key's first entry with its last value.
    ///
    /// One array of 8 bytes per entry is all a merge takes in proportion to the container (for
    /// a 1M-entry dict the merge was the peak of the load): each word is the entry's hash with
    /// its low bits replaced by the entry's number, put in bucket order in place. Equal keys
    /// have equal hash bits; fewer bits only let more unequal keys reach equal(), which decides.
    void merge(node_id c, std::size_t stride) {
        const std::size_t n = doc_.edge_count(c) / stride;
        if (n < 2) return;
        detail::pod_vector<std::uint64_t> order;  // every word written next: not zero-filled first
        order.grow_to(n);
        for (std::size_t i = 0; i < n; ++i) {  // every key was checked hashable at its insert
            const node_id key = doc_.edge(c, i * stride);
            if (doc_.at(key).k == kind::string) order[i] = string_hash(key);  // the usual key, without the walk
            else (void)hash_of(key, order[i]);
        }
        unsigned entry_bits = 1;
        while ((std::uint64_t{1} << entry_bits) < n) ++entry_bits;
        const std::uint64_t entry_mask = (std::uint64_t{1} << entry_bits) - 1;
        for (std::size_t i = 0; i < n; ++i) order[i] = (order[i] & ~entry_mask) | i;
        // Equal hashes made adjacent: the words put in order of their top 10 hash bits, each
        // bucket then in order of the next 10 when it is big, and what is left sorted. Each
        // pass has at most 1,024 buckets for the memory system's sake, not the count's: a pass
        // reads and writes at every bucket's front at once, and 1,024 fronts stay in cache and
        // in the TLB where 65,536 in one pass (tried) made each move a miss, a third of the
        // time of a 1M-entry load.
        detail::vector<std::uint32_t> start, next, sub;
        const unsigned top_bits = flag_pass(order.data(), n, 64, start, next);
        for (std::size_t b = 0; b + 1 < start.size(); ++b) {
            const std::uint32_t lo = start[b], hi = start[b + 1];
            if (hi - lo < 2) continue;
            if (hi - lo <= 64) {
                detail::sort(order.data() + lo, order.data() + hi);
                continue;
            }
            flag_pass(order.data() + lo, hi - lo, 64 - top_bits, sub, next);
            for (std::size_t k = 0; k + 1 < sub.size(); ++k)
                if (sub[k + 1] - sub[k] > 1) detail::sort(order.data() + lo + sub[k], order.data() + lo + sub[k + 1]);
        }
        const auto hash_bits = [entry_bits](std::uint64_t w) { return w >> entry_bits; };
        detail::vector<std::uint32_t> keep_as;  // entry -> the entry it merges into (itself if kept)
        bool any = false;
        for (std::uint32_t i = 1; i < n; ++i) {  // equal hashes are adjacent, in entry order
            if (hash_bits(order[i]) != hash_bits(order[i - 1])) continue;  // the common case: no equal hash
            const auto e = static_cast<std::uint32_t>(order[i] & entry_mask);
            for (std::uint32_t j = i; j-- > 0 && hash_bits(order[j]) == hash_bits(order[i]);) {
                const auto first = static_cast<std::uint32_t>(order[j] & entry_mask);
                if (!equal(doc_.edge(c, first * stride), doc_.edge(c, e * stride))) continue;
                if (!any) {
                    keep_as.resize(n);
                    for (std::uint32_t k = 0; k < n; ++k) keep_as[k] = k;
                    any = true;
                }
                keep_as[e] = keep_as[first];  // the first entry with this key (equality is transitive)
                break;
            }
        }
        if (!any) return;
        // entries in order: a repeated key hands its value to the first entry (last one wins)
        detail::vector<node_id> kept;
        kept.reserve(doc_.edge_count(c));
        for (std::uint32_t k = 0; k < n; ++k)
            if (keep_as[k] != k && stride == 2) doc_.set_edge(c, 2 * keep_as[k] + 1, doc_.edge(c, 2 * k + 1));
        for (std::uint32_t k = 0; k < n; ++k) {
            if (keep_as[k] != k) continue;
            for (std::size_t s = 0; s < stride; ++s) kept.push_back(doc_.edge(c, k * stride + s));
        }
        for (std::size_t i = 0; i < kept.size(); ++i) doc_.set_edge(c, i, kept[i]);
        doc_.truncate_edges(c, kept.size());
    }

    /// Puts w[0, n) in order of the hash bits just below bit `shift` (up to 10 of them, about
    /// one bucket per word), in place: each bucket's next free slot takes the words that belong
    /// there, swapped out of the way until the slot holds one of its own (American flag sort).
    /// Bucket b is then w[start[b], start[b + 1]); returns the number of bits used.
    static unsigned flag_pass(std::uint64_t* w, std::size_t n, unsigned shift, detail::vector<std::uint32_t>& start,
                              detail::vector<std::uint32_t>& next) {
        unsigned bits = 1;
        while (bits < 10 && (std::size_t{1} << bits) < n) ++bits;
        const auto bucket = [shift, bits](std::uint64_t x) {
            return static_cast<std::size_t>((x >> (shift - bits)) & ((std::uint64_t{1} << bits) - 1));
        };
        start.assign((std::size_t{1} << bits) + 1, 0);
        for (std::size_t i = 0; i < n; ++i) ++start[bucket(w[i]) + 1];
        for (std::size_t b = 1; b < start.size(); ++b) start[b] += start[b - 1];
        next.assign(start.begin(), start.end() - 1);
        for (std::size_t b = 0; b + 1 < start.size(); ++b)
            while (next[b] < start[b + 1]) {
                const std::size_t home = bucket(w[next[b]]);
                if (home == b) ++next[b];
                else std::swap(w[next[b]], w[next[home]++]);
            }
        return bits;
    }

    /// The text 8 bytes at a time; a tail is the last 8 bytes read again (overlapping the word
    /// before: the length is hashed too, so equal texts still hash equal and only equal ones
    /// are compared), and a text under 8 bytes is gathered byte by byte.
    /// (`kind_tag` keeps texts of different kinds apart: str "a" is not b"a".)
    PTLOAD_INLINE static std::uint64_t hash_bytes(std::string_view s, std::uint64_t kind_tag) {
        const std::size_t n = s.size();
        const char* p = s.data();
        std::uint64_t h = detail::hash_seed() ^ kind_tag ^ (n * 0x9E3779B97F4A7C15ull), w = 0;
        if (n < 8) {
            for (std::size_t i = 0; i < n; ++i) w |= std::uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
            return detail::mix64(h ^ w);
        }
        for (std::size_t i = 0; i + 8 < n; i += 8) {
            std::memcpy(&w, p + i, 8);
            h = detail::mix64(h ^ w) * 31;
        }
        std::memcpy(&w, p + n - 8, 8);
        return detail::mix64(h ^ w);
    }
    /// A str's hash, as hash_of gives it; the merge takes it directly for the usual str keys.
    PTLOAD_INLINE std::uint64_t string_hash(node_id id) const { return hash_bytes(doc_.text(id), 1); }
    /// Values equal only to themselves hash by their node, as CPython hashes NaNs (3.10 on) and
    /// objects: many distinct NaN keys, all equal-hashed by their bits, made a merge quadratic.
    static std::uint64_t identity_hash(node_id id) { return detail::seeded_hash(0xA11CE ^ id); }
    /// A real number that is not NaN: integral ones hash as their int, others by their bits
    /// (mixed with the seed, so that no int can be picked to collide with one).
    static std::uint64_t real_hash(double f) {
        std::int64_t i;
        if (float_as_int(f, i)) return detail::seeded_hash(static_cast<std::uint64_t>(i));
        std::uint64_t bits;
        std::memcpy(&bits, &f, 8);
        return detail::seeded_hash(bits);
    }
    /// Python numbers that compare equal hash equal: integral floats hash as their int.
    static bool float_as_int(double f, std::int64_t& out) {
        if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0)) return false;
        out = static_cast<std::int64_t>(f);  // in range: truncates, so integral f come back equal
        return static_cast<double>(out) == f;
    }

    /// Hashes are cached per immutable container, so a key built from many references to one
    /// tuple (each level referring twice to the level below) hashes in time linear in its nodes.
    status hash_of(node_id id, std::uint64_t& h, int depth = 0) const {
        bool complete = true;
        return hash_rec(id, h, depth, complete);
    }
    status hash_rec(node_id id, std::uint64_t& h, int depth, bool& complete) const {
        const auto& n = doc_.at(id);
        switch (n.k) {
        case kind::none: h = 0x4e6f6e65; return {};
        case kind::boolean:
        case kind::integer: h = detail::seeded_hash(static_cast<std::uint64_t>(n.i)); return {};
        case kind::floating: h = n.f != n.f ? identity_hash(id) : real_hash(n.f); return {};  // NaN equals only itself
        case kind::complex: {
            if (n.c.re != n.c.re || n.c.im != n.c.im) h = identity_hash(id);
            else if (n.c.im == 0) h = real_hash(n.c.re);  // 1 + 0j == 1.0 == 1
            else {
                std::uint64_t a, b;
                std::memcpy(&a, &n.c.re, 8);
                std::memcpy(&b, &n.c.im, 8);
                h = detail::mix64(a ^ detail::seeded_hash(b));
            }
            return {};
        }
        case kind::string: h = string_hash(id); return {};
        case kind::bytes: h = hash_bytes(doc_.text(id), 2); return {};
        case kind::big_integer: h = hash_bytes(doc_.text(id), 3); return {};
        case kind::global:
        case kind::device:
        case kind::numpy_dtype: h = hash_bytes(doc_.text(id), 4 + static_cast<int>(n.k)); return {};
        case kind::dtype: h = detail::mix64(0xD7 ^ static_cast<std::uint64_t>(doc_.dtype_of(id))); return {};
        case kind::tuple:
        case kind::frozenset:
        case kind::torch_size: {
            if (const std::uint64_t* cached = hash_cache_.find(id)) {
                h = *cached;
                return {};
            }
            h = detail::mix64(static_cast<std::uint64_t>(n.k) + doc_.edge_count(id));
            if (static_cast<std::size_t>(depth) >= max_depth_) {  // deeper parts do not count (equal() gives up there too)
                complete = false;
                return {};
            }
            bool sub_complete = true;
            for (std::size_t i = 0; i < doc_.edge_count(id); ++i) {
                std::uint64_t e;
                PTLOAD_TRY(hash_rec(doc_.edge(id, i), e, depth + 1, sub_complete));
                h = n.k == kind::frozenset ? h + detail::mix64(e) : detail::mix64(h * 1000003 ^ e);  // frozensets are unordered
            }
            if (sub_complete) hash_cache_.insert(id, h);
            else complete = false;
            return {};
        }
        case kind::list: case kind::dict: case kind::ordered_dict: case kind::set: case kind::bytearray:
        case kind::ndarray: case kind::slice:
            return detail::failure(errc::bad_operand, no_offset, {"unhashable type: '", kind_name(n.k), "'"});
        default: h = identity_hash(id); return {};  // identity-hashed objects
        }
    }

    /// Python's ==. Tuples compare item by item; a pair of tuples already found equal is not
    /// compared again, so shared sub-tuples cost once; frozensets match items
    /// through sorted hashes rather than all pairs.
    bool equal(node_id a, node_id b) const {
        if (!proven_equal_.empty()) proven_equal_.clear();
        return equal_rec(a, b, 0);
    }
    bool equal_rec(node_id a, node_id b, int depth) const {
        if (a == b) return true;  // Python compares identity first
        const auto& x = doc_.at(a);
        const auto& y = doc_.at(b);
        bool xnum = x.k == kind::integer || x.k == kind::boolean, ynum = y.k == kind::integer || y.k == kind::boolean;
        if (xnum && ynum) return x.i == y.i;
        std::int64_t i;
        if (xnum && y.k == kind::floating) return float_as_int(y.f, i) && i == x.i;
        if (ynum && x.k == kind::floating) return float_as_int(x.f, i) && i == y.i;
        if ((x.k == kind::complex) != (y.k == kind::complex)) {  // a complex equals its real part when it has no imaginary one
            const detail::node& c = x.k == kind::complex ? x : y;
            const detail::node& r = x.k == kind::complex ? y : x;
            if (c.c.im != 0) return false;
            if (r.k == kind::floating) return c.c.re == r.f;
            if (r.k == kind::integer || r.k == kind::boolean) return float_as_int(c.c.re, i) && i == r.i;
            return false;
        }
        if (x.k != y.k) return false;
        switch (x.k) {
        case kind::none: return true;
        case kind::floating: return x.f == y.f;
        case kind::complex: return x.c.re == y.c.re && x.c.im == y.c.im;
        case kind::string: case kind::bytes: case kind::big_integer: case kind::global: case kind::device:
        case kind::numpy_dtype:
            return doc_.text(a) == doc_.text(b);
        case kind::dtype: return doc_.dtype_of(a) == doc_.dtype_of(b);
        case kind::tuple:
        case kind::torch_size:
        case kind::frozenset: {
            std::size_t n = doc_.edge_count(a);
            if (static_cast<std::size_t>(depth) >= max_depth_ || n != doc_.edge_count(b)) return false;
            std::uint64_t ha = 0, hb = 0;
            if (hash_of(a, ha) && hash_of(b, hb) && ha != hb) return false;
            if (proven_equal_.find(pair_key(a, b))) return true;
            bool same = true;
            if (x.k != kind::frozenset) {
                for (std::size_t k = 0; k < n && same; ++k) same = equal_rec(doc_.edge(a, k), doc_.edge(b, k), depth + 1);
            } else {
                same = frozensets_equal(a, b, n, depth);
            }
            if (same) proven_equal_.insert(pair_key(a, b), true);
            return same;
        }
        default: return false;
        }
    }
    bool frozensets_equal(node_id a, node_id b, std::size_t n, int depth) const {
        detail::vector<std::pair<std::uint64_t, node_id>> xs(n), ys(n);
        for (std::size_t k = 0; k < n; ++k) {
            xs[k].second = doc_.edge(a, k);
            ys[k].second = doc_.edge(b, k);
            if (!hash_of(xs[k].second, xs[k].first) || !hash_of(ys[k].second, ys[k].first)) return false;
        }
        detail::sort(xs.begin(), xs.end());
        detail::sort(ys.begin(), ys.end());
        for (std::size_t k = 0; k < n; ++k)
            if (xs[k].first != ys[k].first) return false;
        // every item of a has an equal item in b among those of the same hash
        for (std::size_t lo = 0; lo < n;) {
            std::size_t hi = lo + 1;
            while (hi < n && xs[hi].first == xs[lo].first) ++hi;
            for (std::size_t k = lo; k < hi; ++k) {
                bool found = false;
                for (std::size_t j = lo; j < hi && !found; ++j) found = equal_rec(xs[k].second, ys[j].second, depth + 1);
                if (!found) return false;
            }
            lo = hi;
        }
        return true;
    }
    static std::uint64_t pair_key(node_id a, node_id b) { return (static_cast<std::uint64_t>(a) << 32) | b; }

    document_data& doc_;
    std::size_t max_depth_;
    detail::flat_map<node_id, std::uint32_t> big_;                    // big containers and their stride
    mutable detail::flat_map<node_id, std::uint64_t> hash_cache_;  // tuples, frozensets, torch.Size
    mutable detail::flat_map<std::uint64_t, bool> proven_equal_;    // container pairs, during one equal()
    node_id last_big_ = null_node;                                   // the big container last looked up
};

using key_index = basic_key_index<>;

} // namespace pickle
} // namespace v0
} // namespace ptload

#endif
