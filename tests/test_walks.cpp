// Walks over a loaded document (canonical JSON, tree print, tensor listing) stay bounded by the
// input's size or a named limit, whatever shape a hostile pickle gives the document.
//
// Expected JSON strings below were printed by tools/oracle (CPython 3.11, torch 1.13) for the
// same bytes: `load.dump(path, "utf-8", "strict", None)` on a file holding them.
#include "pickle_bytes.hpp"
#include "test_support.hpp"

#include <doctest/doctest.h>
#include <ptload/all.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace {

using namespace ptload_test::pickle_bytes;

void put(bytes& b, std::initializer_list<int> items) {
    for (int i : items) b.push_back(static_cast<std::uint8_t>(i));
}
void put(bytes& b, const std::string& s) { b.insert(b.end(), s.begin(), s.end()); }

/// (1,), then `depth` times a tuple of two memo references to the previous one (TUPLE2).
bytes tuple_laughs(int depth) {
    bytes b;
    put(b, {0x80, 2, 'K', 1, 0x85, 'q', 0, '0'});
    for (int i = 1; i <= depth; ++i) put(b, {'h', i - 1, 'h', i - 1, 0x86, 'q', i, '0'});
    put(b, {'h', depth, '.'});
    return b;
}

/// frozenset({1}), then `depth` times frozenset({previous, (previous,)}) (FROZENSET, protocol 4).
bytes frozenset_laughs(int depth) {
    bytes b;
    put(b, {0x80, 4, '(', 'K', 1, 0x91, 'q', 0, '0'});
    for (int i = 1; i <= depth; ++i) put(b, {'(', 'h', i - 1, 'h', i - 1, 0x85, 0x91, 'q', i, '0'});
    put(b, {'h', depth, '.'});
    return b;
}

/// slice(1), then `depth` times slice(previous, previous) through REDUCE of builtins.slice.
bytes slice_laughs(int depth) {
    bytes b;
    put(b, {0x80, 2, 'c'});
    put(b, "builtins\nslice\n");
    put(b, {'q', 200, '0', 'h', 200, 'K', 1, 0x85, 'R', 'q', 0, '0'});
    for (int i = 1; i <= depth; ++i) put(b, {'h', 200, 'h', i - 1, 'h', i - 1, 0x86, 'R', 'q', i, '0'});
    put(b, {'h', depth, '.'});
    return b;
}

std::size_t count_lines(const std::string& s) {
    std::size_t n = 0;
    for (char c : s) n += c == '\n';
    return n;
}

/// A document built by hand holding one storage of `n` bytes.
std::uint32_t add_storage(ptload::document& doc, ptload::dtype type, std::uint8_t* data, std::size_t n) {
    ptload::storage s;
    s.desc.type = type;
    s.desc.numel = n / ptload::element_size(type);
    s.device = "cpu";
    s.bytes = ptload::storage_buffer(data, n, nullptr, nullptr);
    s.resident = true;
    return doc.data().add_storage(std::move(s));
}

ptload::node_id add_tensor(ptload::document& doc, ptload::dtype type, std::uint32_t storage, std::vector<std::int64_t> shape,
                           std::vector<std::int64_t> stride) {
    ptload::detail::tensor_record r;
    r.type = type;
    r.storage = storage;
    r.device = "cpu";
    r.rank = static_cast<std::uint32_t>(shape.size());
    r.dims = doc.data().add_dims(shape.data(), stride.data(), shape.size());
    return doc.data().add_tensor(r);
}

} // namespace

TEST_CASE("walks: a tuple billion laughs is written once per tuple, as Python shares it") {
    auto small = parse(tuple_laughs(3));
    REQUIRE(small);
    CHECK(ptload::canonical_json(*small).value() ==
          R"({"tuple":[{"tuple":[{"tuple":[{"tuple":[1]},{"same_as":3}]},{"same_as":2}]},{"same_as":1}]})");

    bytes hostile = tuple_laughs(30);  // 251 bytes naming 2^30 paths
    CHECK(hostile.size() == 251);
    auto doc = parse(hostile);
    REQUIRE(doc);
    auto json = ptload::canonical_json(*doc, 1 << 20);
    REQUIRE(json);
    CHECK(json->size() == 814);  // the oracle's output for the same bytes has 814 bytes
    CHECK(json->compare(0, 22, R"({"tuple":[{"tuple":[{")") == 0);
    CHECK(ptload::canonical_json(*doc).value() == *json);
    CHECK(count_lines(ptload::to_tree(doc->root())) < 100);
    CHECK(ptload::list_tensors(*doc).empty());
}

TEST_CASE("walks: the shared empty tuple is printed in full each time") {
    // t = ((), (), [7]); (t, t): the empty tuple is one value, as in CPython
    bytes b;
    put(b, {0x80, 2, '(', ')', ')', '(', 'K', 7, 'l', 't', 'q', 0, 'h', 0, 0x86, '.'});
    auto doc = parse(b);
    REQUIRE(doc);
    const std::string tree = ptload::to_tree(doc->root());
    std::size_t empties = 0;
    for (std::size_t at = tree.find("tuple (0 items)"); at != std::string::npos; at = tree.find("tuple (0 items)", at + 1))
        ++empties;
    CHECK(empties == 2);
    CHECK(tree.find("tuple (shown above)") != std::string::npos);  // the second reference to the outer one
    CHECK(tree.find("tuple (0 items) (shown above)") == std::string::npos);
}

TEST_CASE("walks: slices and frozensets are shared too") {
    auto small = parse(slice_laughs(3));
    REQUIRE(small);
    CHECK(ptload::canonical_json(*small).value() ==
          R"({"slice":[{"slice":[{"slice":[{"slice":[null,1,null]},{"same_as":3},null]},{"same_as":2},null]},{"same_as":1},null]})");
    auto slices = parse(slice_laughs(30));
    REQUIRE(slices);
    auto json = ptload::canonical_json(*slices, 1 << 20);
    REQUIRE(json);
    CHECK(json->size() == 974);  // as the oracle's

    // Python orders a frozenset by hash, so only the size is compared (the oracle's: 1301 bytes,
    // give or take the digits of same_as numbers met in another order).
    auto sets = parse(frozenset_laughs(30));
    REQUIRE(sets);
    auto fs = ptload::canonical_json(*sets, 1 << 20);
    REQUIRE(fs);
    CHECK(fs->size() < 1400);
    CHECK(count_lines(ptload::to_tree(sets->root())) < 200);
}

TEST_CASE("walks: the dump output is bounded by the input's size") {
    // A 1000-character string memoized once and fetched from the memo n times: the only
    // legitimate growth left, each reference costs 2 input bytes and writes 1002.
    auto make = [](int n) {
        bytes b;
        put(b, {0x80, 2, 'X', 0xE8, 0x03, 0, 0});
        put(b, std::string(1000, 'a'));
        put(b, {'q', 0, '0', ']', '('});
        for (int i = 0; i < n; ++i) put(b, {'h', 0});
        put(b, {'e', '.'});
        return b;
    };
    bytes fine = make(10000);
    auto doc = parse(fine);
    REQUIRE(doc);
    CHECK(doc->input_bytes() == fine.size());
    auto l = ptload::walk_limits_for(*doc);
    CHECK(l.max_output == ptload::default_limits::dump_slack + ptload::default_limits::dump_bytes_per_input_byte * fine.size());
    auto json = ptload::canonical_json(*doc);
    REQUIRE(json);
    CHECK(json->size() == 2 + 10000 * 1003 - 1);

    bytes big = make(100000);  // 200 KB of pickle asking for 100 MB of JSON
    auto hostile = parse(big);
    REQUIRE(hostile);
    auto refused = ptload::canonical_json(*hostile);
    REQUIRE_FALSE(refused);
    CHECK(refused.err().code == ptload::errc::limit_output);
    CHECK(ptload::canonical_json(*hostile, std::uint64_t{1} << 28));  // a caller may allow more

    ptload::tree_options o;
    o.max_bytes = 4096;
    o.max_text = 2000;
    std::string tree = ptload::to_tree(hostile->root(), o);
    CHECK(tree.size() < 4096 + 2100);
    CHECK(tree.find("output limit") != std::string::npos);
}

TEST_CASE("walks: nesting a million lists deep (APPEND, no MARK) walks iteratively") {
    const int n = 1000000;
    bytes b;
    put(b, {0x80, 2});
    for (int i = 0; i < n; ++i) put(b, {']'});
    for (int i = 1; i < n; ++i) put(b, {'a'});
    put(b, {'.'});
    auto doc = parse(b);
    REQUIRE(doc);
    auto json = ptload::canonical_json(*doc);
    REQUIRE(json);
    CHECK(*json == std::string(n, '[') + std::string(n, ']'));
    std::string tree = ptload::to_tree(doc->root());
    CHECK(count_lines(tree) <= ptload::tree_options{}.max_lines + 1);
    CHECK(tree.size() < 200u * ptload::tree_options{}.max_lines);
    CHECK(ptload::list_tensors(*doc).empty());
}

TEST_CASE("walks: the tree print's indentation is bounded") {
    const int n = 5000;
    bytes b;
    put(b, {0x80, 2});
    for (int i = 0; i < n; ++i) put(b, {']'});
    for (int i = 1; i < n; ++i) put(b, {'a'});
    put(b, {'.'});
    auto doc = parse(b);
    REQUIRE(doc);
    std::string tree = ptload::to_tree(doc->root());
    CHECK(count_lines(tree) == n);
    CHECK(tree.size() < 200u * n);  // 2 spaces a level would be 25 MB
    CHECK(tree.find("(depth 4999) list (0 items)") != std::string::npos);
}

TEST_CASE("walks: listing tensors visits each once and bounds the names") {
    static std::uint8_t one[4] = {0, 0, 0x80, 0x3f};
    {  // a billion laughs of tuples around one tensor
        ptload::document doc;
        auto s = add_storage(doc, ptload::dtype::float32, one, 4);
        ptload::node_id t = add_tensor(doc, ptload::dtype::float32, s, {1}, {1});
        ptload::node_id pair[2] = {t, t};
        ptload::node_id top = doc.data().make_seq(ptload::kind::tuple, pair, 2);
        for (int i = 0; i < 30; ++i) {
            pair[0] = pair[1] = top;
            top = doc.data().make_seq(ptload::kind::tuple, pair, 2);
        }
        doc.data().set_root(top);
        auto rows = ptload::list_tensors(doc);
        REQUIRE(rows.size() == 1);
        CHECK(rows[0].name == "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0");
        auto json = ptload::canonical_json(doc, 1 << 20);
        REQUIRE(json);
        CHECK(json->size() < 4096);
        CHECK(count_lines(ptload::to_tree(doc.root())) < 100);
    }
    {  // a tensor 50000 lists deep: its name keeps its end
        ptload::document doc;
        auto s = add_storage(doc, ptload::dtype::float32, one, 4);
        ptload::node_id top = add_tensor(doc, ptload::dtype::float32, s, {1}, {1});
        for (int i = 0; i < 50000; ++i) top = doc.data().make_seq(ptload::kind::list, &top, 1);
        doc.data().set_root(top);
        auto rows = ptload::list_tensors(doc);
        REQUIRE(rows.size() == 1);
        CHECK(rows[0].name.size() <= 1024 + 3);
        CHECK(rows[0].name.compare(0, 4, "...0") == 0);
    }
    {  // one 100 KB key, reused at each of 100 levels
        ptload::document doc;
        auto s = add_storage(doc, ptload::dtype::float32, one, 4);
        ptload::node_id top = add_tensor(doc, ptload::dtype::float32, s, {1}, {1});
        ptload::node_id key = doc.data().make_string(std::string(100000, 'k'));
        for (int i = 0; i < 100; ++i) {
            ptload::node_id kv[2] = {key, top};
            top = doc.data().make_seq(ptload::kind::dict, kv, 2);
        }
        doc.data().set_root(top);
        auto rows = ptload::list_tensors(doc);
        REQUIRE(rows.size() == 1);
        CHECK(rows[0].name.size() <= 1024 + 3);
    }
}

TEST_CASE("walks: hashing a view is bounded by its storage") {
    static float one_value = 1.0f;  // storages hold host byte order
    std::uint8_t* one = reinterpret_cast<std::uint8_t*>(&one_value);
    {  // a legitimate broadcast (torch.ones(1).expand(1000, 1000)) still dumps
        ptload::document doc;
        auto s = add_storage(doc, ptload::dtype::float32, one, 4);
        doc.data().set_root(add_tensor(doc, ptload::dtype::float32, s, {1000, 1000}, {0, 0}));
        auto json = ptload::canonical_json(doc);
        REQUIRE(json);
        // hashlib.sha256(struct.pack('<f', 1.0) * 10**6), as the oracle hashes the expanded view
        CHECK(json->find("3ac3a5af5ffc7e690a8cd426d80094fce2803e810f28af7eb36fa053f3508167") != std::string::npos);
    }
    {  // 32 MiB of logical bytes over one stored byte
        ptload::document doc;
        auto s = add_storage(doc, ptload::dtype::uint8, one, 1);
        doc.data().set_root(add_tensor(doc, ptload::dtype::uint8, s, {1 << 13, 1 << 12}, {0, 0}));
        auto json = ptload::canonical_json(doc);
        REQUIRE_FALSE(json);
        CHECK(json.err().code == ptload::errc::limit_view);
        CHECK(json.err().message.find("max_view_expansion") != std::string::npos);
    }
    {  // shape [2^31, 2^31] with stride 0: 2^62 elements
        ptload::document doc;
        auto s = add_storage(doc, ptload::dtype::uint8, one, 1);
        std::int64_t big = std::int64_t{1} << 31;
        doc.data().set_root(add_tensor(doc, ptload::dtype::uint8, s, {big, big}, {0, 0}));
        auto json = ptload::canonical_json(doc);
        REQUIRE_FALSE(json);
        CHECK(json.err().code == ptload::errc::limit_view);
    }
}

TEST_CASE("key lookup in a big mapping is hashed and agrees with a scan, also after the mapping changes") {
    ptload::document doc;
    auto& d = doc.data();
    std::vector<ptload::node_id> items;
    const int n = 20000;
    for (int i = 0; i < n; ++i) {
        items.push_back(d.make_string("layer" + std::to_string(i) + ".weight"));
        items.push_back(d.make_int(i));
    }
    items.push_back(d.make_string("layer7.weight"));  // a repeated key: the first one wins, as a scan finds it
    items.push_back(d.make_int(-1));
    ptload::node_id dict = d.make_seq(ptload::kind::dict, items.data(), items.size());
    d.set_root(dict);
    ptload::value root = doc.root();
    for (int i = 0; i < n; ++i) {  // 20,000 lookups in 20,000 entries: a scan each would be 2 x 10^8 compares
        auto v = root["layer" + std::to_string(i) + ".weight"].as_int();
        REQUIRE(v);
        CHECK(*v == i);
    }
    CHECK(root["layer7.weight"].as_int().value() == 7);
    CHECK(root["nope"].as_int().err().code == ptload::errc::not_found);
    CHECK(root["nope"].as_int().err().context == "[\"nope\"]");
    // the document changes after the tables were built: they are dropped, lookups stay right
    d.push_edge(dict, d.make_string("added"));
    d.push_edge(dict, d.make_int(42));
    CHECK(doc.root()["added"].as_int().value() == 42);
    CHECK(doc.root()["layer19999.weight"].as_int().value() == 19999);
}

namespace {

/// Every event of a walk that enters each value once, written as "depth step kind" lines.
struct step_recorder {
    explicit step_recorder(const ptload::document_data& d) : doc(d), seen(d.node_count(), false) {}
    const ptload::document_data& doc;
    std::vector<bool> seen;
    std::vector<std::string> events;

    ptload::walk_action enter(const ptload::walk_event& e, std::uint32_t&) {
        std::string step;
        switch (e.step.kind) {
        case ptload::step_kind::root: step = "root"; break;
        case ptload::step_kind::entry: step = "entry " + std::string(doc.text(e.step.key)); break;
        case ptload::step_kind::item: step = "item " + std::to_string(e.step.index); break;
        case ptload::step_kind::slot: step = std::string("slot ") + ptload::slot_name(e.step.slot); break;
        }
        const bool again = seen[e.id];
        seen[e.id] = true;
        events.push_back(std::to_string(e.depth) + " " + step + " " + ptload::kind_name(doc.at(e.id).k) +
                         (again ? " again" : ""));
        return again ? ptload::walk_action::skip : ptload::walk_action::descend;
    }
    void leave(ptload::node_id id, std::uint32_t) { events.push_back(std::string("leave ") + ptload::kind_name(doc.at(id).k)); }
};

} // namespace

TEST_CASE("walks: the shared walk yields each container's children in pickle order, with their steps") {
    // shared = [7]
    // o = Foo.__new__(Foo); o.__setstate__({'s': shared})   (NEWOBJ with (), then BUILD)
    // {'a': [1, shared], 'b': (shared, 2), 'c': o}
    bytes b;
    put(b, {0x80, 2, '}', '('});
    put(b, {'X', 1, 0, 0, 0, 'a', ']', '(', 'K', 1, ']', 'K', 7, 'a', 'q', 1, 'e'});
    put(b, {'X', 1, 0, 0, 0, 'b', 'h', 1, 'K', 2, 0x86});
    put(b, {'X', 1, 0, 0, 0, 'c', 'c'});
    put(b, "__main__\nFoo\n");
    put(b, {')', 0x81, '}', 'X', 1, 0, 0, 0, 's', 'h', 1, 's', 'b'});
    put(b, {'u', '.'});
    auto doc = parse(b);
    REQUIRE(doc);
    step_recorder r(doc->data());
    CHECK(ptload::walk(doc->data(), doc->root().id(), r));
    // Depth first in dict insertion order; a value reached again (the memo GET of `shared`) is
    // shown again with its own step, and the visitor decides not to descend.
    const std::vector<std::string> expected = {
        "0 root dict",
        "1 entry a list",
        "2 item 0 int",
        "leave int",
        "2 item 1 list",
        "3 item 0 int",
        "leave int",
        "leave list",
        "leave list",
        "1 entry b tuple",
        "2 item 0 list again",
        "2 item 1 int",
        "leave int",
        "leave tuple",
        "1 entry c object",
        "2 slot args tuple",   // cls.__new__(cls, *()): the args are the empty tuple
        "leave tuple",
        "2 slot state dict",   // what BUILD passed to __setstate__
        "3 entry s list again",
        "leave dict",
        "leave object",
        "leave dict",
    };
    CHECK(r.events == expected);

    // The same walk stops where its visitor says so, and skip_items passes over the rest of a
    // container's items only.
    struct stopper {
        int left;
        std::vector<std::uint64_t> items;
        ptload::walk_action enter(const ptload::walk_event& e, std::uint32_t&) {
            if (e.step.kind == ptload::step_kind::entry) items.push_back(e.step.index);
            if (--left < 0) return ptload::walk_action::stop;
            return e.step.kind == ptload::step_kind::entry && e.step.index == 1 ? ptload::walk_action::skip_items
                                                                                 : ptload::walk_action::skip;
        }
        void leave(ptload::node_id, std::uint32_t) {}
    };
    stopper all{100, {}};
    // The root is entered but not descended: nothing else is shown.
    CHECK(ptload::walk(doc->data(), doc->root().id(), all));
    CHECK(all.items.empty());
    struct root_descender : stopper {
        ptload::walk_action enter(const ptload::walk_event& e, std::uint32_t& m) {
            if (e.step.kind == ptload::step_kind::root) return ptload::walk_action::descend;
            return stopper::enter(e, m);
        }
    };
    root_descender some{{100, {}}};
    CHECK(ptload::walk(doc->data(), doc->root().id(), some));
    CHECK(some.items == std::vector<std::uint64_t>{0, 1});  // entry 2 ('c') skipped by skip_items
    root_descender stopped{{1, {}}};
    CHECK_FALSE(ptload::walk(doc->data(), doc->root().id(), stopped));
    CHECK(stopped.items == std::vector<std::uint64_t>{0, 1});
}

TEST_CASE("walks: a mapping with an odd edge count shows its whole entries only") {
    // Only a damaged document holds one (SETITEMS refuses an odd count): the key left over has
    // no value. A list's edges follow the dict's, so a walk reading past would find the 2 there.
    ptload::document doc;
    auto& d = doc.data();
    ptload::node_id kv[3] = {d.make_string("a"), d.make_int(1), d.make_string("b")};
    ptload::node_id dict = d.make_seq(ptload::kind::dict, kv, 3);
    ptload::node_id two = d.make_int(2);
    ptload::node_id next = d.make_seq(ptload::kind::list, &two, 1);
    ptload::node_id items[2] = {dict, next};
    d.set_root(d.make_seq(ptload::kind::list, items, 2));

    step_recorder values(d);
    CHECK(ptload::walker<step_recorder>(d, values).run(dict));
    CHECK(values.events == std::vector<std::string>{"0 root dict", "1 entry a int", "leave int", "leave dict"});
    step_recorder keys(d);
    CHECK(ptload::walker<step_recorder>(d, keys, ptload::map_keys::walked).run(dict));
    CHECK(keys.events == std::vector<std::string>{"0 root dict", "1 entry a str", "leave str", "1 entry a int",
                                                  "leave int", "leave dict"});

    CHECK(ptload::canonical_json(doc).value() == R"([{"dict":[["a",1]]},[2]])");
    CHECK(ptload::to_tree(doc.root()).find("dict (1 item)") != std::string::npos);
}
