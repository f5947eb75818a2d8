// detail/flat_map.hpp: the hash map behind ptload's lookup tables (storages by key, the memo's
// scattered entries, per-container state of the key index).
//
// Entries sit in one array in insertion order and an open-addressed index of 32-bit slots
// finds them. Nothing is ever erased, so there are no tombstones, and iteration is insertion
// order: the same file always visits its entries in the same order. std::unordered_map would
// do the same work with a node allocation per entry, and costs several times more to compile
// in every file that includes the core header.
//
// Unlike std::unordered_map, an insertion may move every entry: a pointer or reference to a
// value is valid only until the next insertion.
#ifndef PTLOAD_DETAIL_FLAT_MAP_HPP
#define PTLOAD_DETAIL_FLAT_MAP_HPP

#include "../config.hpp"
#include "../memory.hpp"
#include "vector.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

namespace ptload {
inline namespace v0 {
namespace detail {

/// MurmurHash3's 64-bit finaliser: a bijection (distinct words stay distinct) in which every
/// input bit moves every output bit.
inline std::uint64_t mix64(std::uint64_t x) noexcept {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

/// A value fixed for the life of the process and different from run to run (taken from
/// where the address-space randomisation put this program's data and stack), that ptload's
/// hashes start from. Keys come from files; with a known hash a file could hold thousands of
/// keys that collide and make every lookup or merge walk all of them. Only speed depends on
/// it: which keys are equal, and every order ptload shows, never does.
inline std::uint64_t hash_seed() noexcept {
    static const char in_data = 0;
    static const std::uint64_t seed = [] {
        int on_stack = 0;
        return mix64(static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(&on_stack)) * 0x9E3779B97F4A7C15ull ^
                     static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(&in_data)));
    }();
    return seed;
}

/// A word's hash from the seed: distinct words hash apart, and a file cannot pick words whose
/// hashes meet in a table's top bits.
inline std::uint64_t seeded_hash(std::uint64_t x) noexcept { return mix64(x ^ hash_seed()); }

/// Hashes for flat_map, seeded: integers (memo indices a file chooses among them) by
/// seeded_hash, text by FNV-1a from the seed.
template <class K>
struct flat_hash {
    std::uint64_t operator()(K k) const noexcept { return seeded_hash(static_cast<std::uint64_t>(k)); }
};
template <>
struct flat_hash<std::string_view> {
    std::uint64_t operator()(std::string_view s) const noexcept {
        std::uint64_t h = 14695981039346656037ull ^ hash_seed();
        for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
        return h;
    }
};

template <class K, class V, class Hash = flat_hash<K>>
class flat_map {
public:
    struct entry {
        K key;
        V value;
    };

    std::size_t size() const noexcept { return entries_.size(); }
    bool empty() const noexcept { return entries_.empty(); }
    void clear() noexcept {
        entries_.clear();
        slots_.clear();
        shift_ = 64;
    }
    /// Room for `n` entries without growing the index.
    void reserve(std::size_t n) {
        entries_.reserve(n);
        if (2 * n > slots_.size()) rehash(2 * n);
    }

    V* find(const K& key) noexcept {
        const std::size_t e = locate(key);
        return e == npos ? nullptr : &entries_[e].value;
    }
    const V* find(const K& key) const noexcept {
        const std::size_t e = locate(key);
        return e == npos ? nullptr : &entries_[e].value;
    }
    /// Adds `key` with `value` unless it is there already. The value of `key` (new or old),
    /// and whether it was added.
    std::pair<V*, bool> insert(const K& key, V value) {
        if (2 * (entries_.size() + 1) > slots_.size()) rehash(2 * (entries_.size() + 1));
        std::size_t s = slot_of(key);
        for (;; s = (s + 1) & (slots_.size() - 1)) {
            const std::uint32_t e = slots_[s];
            if (e == 0) break;
            if (entries_[e - 1].key == key) return {&entries_[e - 1].value, false};
        }
        if (entries_.size() >= max_entries) out_of_memory();  // slots hold 32-bit entry numbers
        entries_.push_back(entry{key, std::move(value)});
        slots_[s] = static_cast<std::uint32_t>(entries_.size());
        return {&entries_.back().value, true};
    }
    /// The value of `key`, added value-initialised if it is new.
    V& operator[](const K& key) { return *insert(key, V{}).first; }

    /// Entries in insertion order.
    entry* begin() noexcept { return entries_.data(); }
    entry* end() noexcept { return entries_.data() + entries_.size(); }
    const entry* begin() const noexcept { return entries_.data(); }
    const entry* end() const noexcept { return entries_.data() + entries_.size(); }

private:
    static constexpr std::size_t npos = ~std::size_t{0};
    static constexpr std::size_t max_entries = 0xFFFFFFFEu;

    // Fibonacci hashing: the top bits of the product index the table, so keys that differ
    // only in high bits or in low bits both spread.
    std::size_t slot_of(const K& key) const noexcept {
        return static_cast<std::size_t>((Hash{}(key) * 0x9E3779B97F4A7C15ull) >> shift_);
    }
    std::size_t locate(const K& key) const noexcept {
        if (entries_.empty()) return npos;
        for (std::size_t s = slot_of(key);; s = (s + 1) & (slots_.size() - 1)) {
            const std::uint32_t e = slots_[s];
            if (e == 0) return npos;
            if (entries_[e - 1].key == key) return e - 1;
        }
    }
    // An index of at least `want` slots (a power of two, at least 16), at most half full.
    void rehash(std::size_t want) {
        unsigned bits = 4;
        while ((std::size_t{1} << bits) < want) ++bits;
        slots_.assign(std::size_t{1} << bits, 0);
        shift_ = 64 - bits;
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t e = 0; e < entries_.size(); ++e) {
            std::size_t s = slot_of(entries_[e].key);
            while (slots_[s] != 0) s = (s + 1) & mask;
            slots_[s] = static_cast<std::uint32_t>(e + 1);
        }
    }

    vector<entry> entries_;
    vector<std::uint32_t> slots_;  // 0: empty; else entry number + 1
    unsigned shift_ = 64;
};

} // namespace detail
} // namespace v0
} // namespace ptload

#endif
