// convert.hpp: checkpoints written as .safetensors and .npz, read back by small readers written
// here from the formats' descriptions (not from the writer): the safetensors header's JSON,
// the zip container (central directory, zip64 fields, local headers, a bitwise CRC-32) and
// the NPY preamble. Each array must equal, byte for byte, what ptload's own eager load gives
// for that tensor (contiguous_copy), under the name and shape `ptload ls` shows. That those
// values are torch's is checked by tools/live_oracle_check.py, with numpy and torch.
#include "test_support.hpp"

#include <doctest/doctest.h>
#include <ptload/all.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace {

using bytes = std::vector<std::uint8_t>;

std::string fixture(const std::string& name) { return ptload_test::source_path("tests/fixtures/torch/" + name); }

std::uint64_t le(const bytes& b, std::size_t at, int n) {
    std::uint64_t v = 0;
    for (int i = n; i-- > 0;) v = v << 8 | b[at + static_cast<std::size_t>(i)];
    return v;
}

// ---- a minimal JSON reader: objects, arrays, strings, non-negative integers ----

struct json {
    enum kind_t { null, object, array, string, number } kind = null;
    std::string text;
    std::uint64_t number_value = 0;
    std::vector<std::string> keys;  // an object's keys, in order, and their values
    std::vector<json> values;
    std::vector<json> items;        // an array's
    const json* member(const std::string& key) const;
};

const json* json::member(const std::string& key) const {
    for (std::size_t i = 0; i < keys.size(); ++i)
        if (keys[i] == key) return &values[i];
    return nullptr;
}

struct json_reader {
    const std::string& s;
    std::size_t i = 0;
    bool ok = true;

    void space() {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r')) ++i;
    }
    bool eat(char c) {
        space();
        if (i < s.size() && s[i] == c) {
            ++i;
            return true;
        }
        return false;
    }
    std::string str() {
        std::string out;
        if (!eat('"')) {
            ok = false;
            return out;
        }
        while (i < s.size() && s[i] != '"') {
            char c = s[i++];
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i >= s.size()) break;
            char e = s[i++];
            if (e == 'n') out += '\n';
            else if (e == 't') out += '\t';
            else if (e == 'u' && i + 4 <= s.size()) {  // the tests' names are ASCII
                out += static_cast<char>(std::stoi(s.substr(i, 4), nullptr, 16));
                i += 4;
            } else out += e;
        }
        if (!eat('"')) ok = false;
        return out;
    }
    json value() {
        json v;
        space();
        if (i >= s.size()) {
            ok = false;
            return v;
        }
        if (s[i] == '{') {
            v.kind = json::object;
            ++i;
            if (eat('}')) return v;
            do {
                std::string key = str();
                if (!eat(':')) ok = false;
                v.keys.push_back(key);
                v.values.push_back(value());
            } while (ok && eat(','));
            if (!eat('}')) ok = false;
        } else if (s[i] == '[') {
            v.kind = json::array;
            ++i;
            if (eat(']')) return v;
            do v.items.push_back(value());
            while (ok && eat(','));
            if (!eat(']')) ok = false;
        } else if (s[i] == '"') {
            v.kind = json::string;
            v.text = str();
        } else if (s[i] >= '0' && s[i] <= '9') {
            v.kind = json::number;
            while (i < s.size() && s[i] >= '0' && s[i] <= '9')
                v.number_value = v.number_value * 10 + static_cast<std::uint64_t>(s[i++] - '0');
        } else {
            ok = false;
        }
        return v;
    }
};

// ---- what a reader found: named arrays ----

struct array {
    std::string name;
    std::string dtype;  // safetensors dtype or npy descr
    std::vector<std::int64_t> shape;
    bytes data;
};

std::size_t safetensors_size(const std::string& d) {
    if (d == "BOOL" || d == "U8" || d == "I8" || d == "F8_E4M3" || d == "F8_E5M2") return 1;
    if (d == "I16" || d == "U16" || d == "F16" || d == "BF16") return 2;
    if (d == "I32" || d == "U32" || d == "F32") return 4;
    if (d == "I64" || d == "U64" || d == "F64") return 8;
    return 0;
}

std::uint64_t elements(const std::vector<std::int64_t>& shape) {
    std::uint64_t n = 1;
    for (auto d : shape) n *= static_cast<std::uint64_t>(d);
    return n;
}

/// A .safetensors file as its layout describes it; checks the header length, its padding, the
/// metadata, and that the data offsets tile the data section in order.
std::vector<array> read_safetensors(const bytes& file) {
    std::vector<array> out;
    REQUIRE(file.size() >= 8);
    const std::uint64_t n = le(file, 0, 8);
    REQUIRE(n <= file.size() - 8);
    CHECK(n % 8 == 0);
    const std::string header(file.begin() + 8, file.begin() + 8 + static_cast<std::ptrdiff_t>(n));
    json_reader r{header};
    json top = r.value();
    r.space();
    REQUIRE(r.ok);
    CHECK(r.i == header.size());  // only padding spaces after the object
    REQUIRE(top.kind == json::object);
    const json* meta = top.member("__metadata__");
    REQUIRE(meta);
    REQUIRE(meta->member("format"));
    CHECK(meta->member("format")->text == "pt");
    const std::size_t data_start = 8 + static_cast<std::size_t>(n);
    std::uint64_t expected_begin = 0;
    for (std::size_t k = 0; k < top.keys.size(); ++k) {
        if (top.keys[k] == "__metadata__") continue;
        const json& entry = top.values[k];
        const json* dt = entry.member("dtype");
        const json* shape = entry.member("shape");
        const json* offsets = entry.member("data_offsets");
        REQUIRE(dt);
        REQUIRE(shape);
        REQUIRE(offsets);
        REQUIRE(offsets->items.size() == 2);
        array a;
        a.name = top.keys[k];
        a.dtype = dt->text;
        for (const auto& d : shape->items) a.shape.push_back(static_cast<std::int64_t>(d.number_value));
        const std::uint64_t begin = offsets->items[0].number_value, end = offsets->items[1].number_value;
        CHECK(begin == expected_begin);  // packed in order, no gaps
        REQUIRE(begin <= end);
        REQUIRE(end <= file.size() - data_start);
        CHECK(end - begin == elements(a.shape) * safetensors_size(a.dtype));
        a.data.assign(file.begin() + static_cast<std::ptrdiff_t>(data_start + begin),
                      file.begin() + static_cast<std::ptrdiff_t>(data_start + end));
        expected_begin = end;
        out.push_back(std::move(a));
    }
    CHECK(data_start + expected_begin == file.size());
    return out;
}

std::uint32_t bitwise_crc32(const std::uint8_t* p, std::size_t n) {
    std::uint32_t c = 0xFFFFFFFFu;
    for (std::size_t i = 0; i < n; ++i) {
        c ^= p[i];
        for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    }
    return ~c;
}

struct zip_member {
    std::string name;
    bytes data;
    bool zip64 = false;  // the central entry has a zip64 field
};

/// The members of a zip of stored entries, from the end record (and its zip64 form) through
/// the central directory to each local header, with every CRC checked.
std::vector<zip_member> read_zip(const bytes& file, bool& zip64_end) {
    std::vector<zip_member> out;
    REQUIRE(file.size() >= 22);
    const std::size_t eocd = file.size() - 22;  // no archive comment
    REQUIRE(le(file, eocd, 4) == 0x06054b50u);
    std::uint64_t count = le(file, eocd + 10, 2);
    std::uint64_t dir_size = le(file, eocd + 12, 4);
    std::uint64_t dir_offset = le(file, eocd + 16, 4);
    zip64_end = eocd >= 20 && le(file, eocd - 20, 4) == 0x07064b50u;
    if (zip64_end) {
        const std::uint64_t record = le(file, eocd - 20 + 8, 8);
        REQUIRE(record + 56 <= file.size());
        REQUIRE(le(file, static_cast<std::size_t>(record), 4) == 0x06064b50u);
        CHECK(record + 56 == eocd - 20);
        count = le(file, static_cast<std::size_t>(record) + 32, 8);
        dir_size = le(file, static_cast<std::size_t>(record) + 40, 8);
        dir_offset = le(file, static_cast<std::size_t>(record) + 48, 8);
        CHECK(dir_offset + dir_size == record);
    } else {
        CHECK(dir_offset + dir_size == eocd);
    }
    std::size_t at = static_cast<std::size_t>(dir_offset);
    std::uint64_t next_local = 0;
    for (std::uint64_t k = 0; k < count; ++k) {
        REQUIRE(at + 46 <= file.size());
        REQUIRE(le(file, at, 4) == 0x02014b50u);
        const std::uint64_t flags = le(file, at + 8, 2);
        CHECK((flags & 8) == 0);       // no data descriptors
        CHECK(le(file, at + 10, 2) == 0);  // stored
        const std::uint32_t crc = static_cast<std::uint32_t>(le(file, at + 16, 4));
        std::uint64_t compressed = le(file, at + 20, 4), size = le(file, at + 24, 4);
        const std::size_t name_len = static_cast<std::size_t>(le(file, at + 28, 2));
        const std::size_t extra_len = static_cast<std::size_t>(le(file, at + 30, 2));
        const std::size_t comment_len = static_cast<std::size_t>(le(file, at + 32, 2));
        std::uint64_t local = le(file, at + 42, 4);
        zip_member m;
        m.name.assign(file.begin() + static_cast<std::ptrdiff_t>(at + 46),
                      file.begin() + static_cast<std::ptrdiff_t>(at + 46 + name_len));
        for (std::size_t e = at + 46 + name_len; e + 4 <= at + 46 + name_len + extra_len;) {
            const std::uint64_t id = le(file, e, 2), len = le(file, e + 2, 2);
            if (id == 1) {  // only the fields whose 32-bit values are 0xFFFFFFFF, in this order
                m.zip64 = true;
                std::size_t f = e + 4;
                auto wide = [&](std::uint64_t& field) {
                    if (field != 0xFFFFFFFFu) return;
                    field = le(file, f, 8);
                    f += 8;
                };
                wide(size);
                wide(compressed);
                wide(local);
                CHECK(f == e + 4 + len);
            }
            e += 4 + static_cast<std::size_t>(len);
        }
        CHECK(compressed == size);
        CHECK(local == next_local);  // entries back to back from the start
        // The local header: same name, a CRC and sizes (or their zip64 field), then the data.
        const std::size_t lh = static_cast<std::size_t>(local);
        REQUIRE(lh + 30 <= file.size());
        REQUIRE(le(file, lh, 4) == 0x04034b50u);
        CHECK(le(file, lh + 6, 2) == flags);
        CHECK(le(file, lh + 14, 4) == crc);
        const std::size_t lname = static_cast<std::size_t>(le(file, lh + 26, 2));
        const std::size_t lextra = static_cast<std::size_t>(le(file, lh + 28, 2));
        CHECK(std::string(file.begin() + static_cast<std::ptrdiff_t>(lh + 30),
                          file.begin() + static_cast<std::ptrdiff_t>(lh + 30 + lname)) == m.name);
        std::uint64_t local_size = le(file, lh + 22, 4);
        if (local_size == 0xFFFFFFFFu) {
            REQUIRE(lextra >= 20);
            CHECK(le(file, lh + 30 + lname, 2) == 1);
            local_size = le(file, lh + 30 + lname + 4, 8);
        }
        CHECK(local_size == size);
        const std::size_t data = lh + 30 + lname + lextra;
        REQUIRE(data + size <= dir_offset);
        m.data.assign(file.begin() + static_cast<std::ptrdiff_t>(data),
                      file.begin() + static_cast<std::ptrdiff_t>(data + size));
        CHECK(bitwise_crc32(m.data.data(), m.data.size()) == crc);
        next_local = data + size;
        out.push_back(std::move(m));
        at += 46 + name_len + extra_len + comment_len;
    }
    CHECK(at == dir_offset + dir_size);
    CHECK(next_local == dir_offset);
    return out;
}

/// One .npy member: the preamble (magic, version 1.0, header dict padded to 64 bytes and ended
/// by a newline) and the C-order data.
array read_npy(const zip_member& m, std::string* header_out = nullptr) {
    array a;
    const bytes& b = m.data;
    REQUIRE(m.name.size() >= 4);
    CHECK(m.name.substr(m.name.size() - 4) == ".npy");
    a.name = m.name.substr(0, m.name.size() - 4);
    REQUIRE(b.size() >= 10);
    REQUIRE(std::memcmp(b.data(), "\x93NUMPY", 6) == 0);
    CHECK(b[6] == 1);
    CHECK(b[7] == 0);
    const std::size_t header_len = static_cast<std::size_t>(le(b, 8, 2));
    REQUIRE(10 + header_len <= b.size());
    CHECK((10 + header_len) % 64 == 0);
    const std::string header(b.begin() + 10, b.begin() + 10 + static_cast<std::ptrdiff_t>(header_len));
    CHECK(header.back() == '\n');
    if (header_out) *header_out = header;
    const std::string descr_key = "'descr': '";
    const std::size_t d = header.find(descr_key);
    REQUIRE(d != std::string::npos);
    a.dtype = header.substr(d + descr_key.size(), header.find('\'', d + descr_key.size()) - d - descr_key.size());
    CHECK(header.find("'fortran_order': False") != std::string::npos);
    const std::size_t open = header.find("'shape': (");
    REQUIRE(open != std::string::npos);
    const std::size_t close = header.find(')', open);
    REQUIRE(close != std::string::npos);
    std::string dims = header.substr(open + 10, close - open - 10);
    for (std::size_t i = 0; i < dims.size();) {
        if (dims[i] < '0' || dims[i] > '9') {
            ++i;
            continue;
        }
        std::int64_t v = 0;
        while (i < dims.size() && dims[i] >= '0' && dims[i] <= '9') v = v * 10 + (dims[i++] - '0');
        a.shape.push_back(v);
    }
    a.data.assign(b.begin() + 10 + static_cast<std::ptrdiff_t>(header_len), b.end());
    const std::size_t item = static_cast<std::size_t>(std::stoi(a.dtype.substr(2)));
    CHECK(a.data.size() == elements(a.shape) * item);
    return a;
}

std::vector<array> read_npz(const bytes& file, bool* zip64 = nullptr) {
    bool end64 = false;
    std::vector<array> out;
    for (const auto& m : read_zip(file, end64)) {
        if (zip64) CHECK(m.zip64 == *zip64);
        out.push_back(read_npy(m));
    }
    if (zip64) CHECK(end64 == *zip64);
    return out;
}

// ---- what ptload's own (eager) load says the arrays hold ----

/// The tensor's elements, row-major and little-endian: contiguous_copy gives host order, except
/// for a wide dtype laid over a byte storage, whose bytes stay the file's.
bytes expected_bytes(const ptload::document& doc, const ptload::tensor& t) {
    auto copy = t.contiguous_copy();
    REQUIRE(copy);
    const ptload::dtype stored = doc.storage_at(t.storage_index()).desc.type;
    if (!ptload::detail::host_is_little_endian() && ptload::detail::byte_order_unit(stored) > 1)
        ptload::detail::byteswap_elements(copy->data(), copy->size(), t.dtype());
    return *copy;
}

/// Every tensor of the file (but `skip`) against the arrays read back, in listing order.
void compare(const std::string& path, const std::vector<array>& arrays, const std::vector<std::string>& skip,
             bool npz) {
    auto doc = ptload::load_file(path);
    REQUIRE(doc);
    std::size_t k = 0;
    for (const auto& row : ptload::list_tensors(*doc)) {
        bool skipped = false;
        for (const auto& s : skip) skipped = skipped || s == row.name;
        if (skipped) continue;
        INFO(path << ": " << row.name);
        REQUIRE(k < arrays.size());
        const array& a = arrays[k++];
        auto t = row.tensor_value.as_tensor();
        REQUIRE(t);
        CHECK(a.name == row.name);
        CHECK(a.dtype == std::string(npz ? ptload::npy_descr(t->dtype()) : ptload::safetensors_dtype(t->dtype())));
        CHECK(a.shape == std::vector<std::int64_t>(t->shape().begin(), t->shape().end()));
        CHECK(a.data == expected_bytes(*doc, *t));
    }
    CHECK(k == arrays.size());
}

/// Every tensor but `skip`, as convert_options::select.
ptload::convert_options all_but(const ptload::document& doc, const std::vector<std::string>& skip) {
    ptload::convert_options o;
    for (const auto& row : ptload::list_tensors(doc)) {
        bool skipped = false;
        for (const auto& s : skip) skipped = skipped || s == row.name;
        if (!skipped) o.select.push_back(row.name);
    }
    return o;
}

struct case_t {
    std::string path;
    std::vector<std::string> skip;  // the tensors the format has no dtype for
};

/// Converts a lazily opened file and checks the output against an eager load of it.
void check_conversion(const case_t& c, ptload::convert_format format) {
    INFO(c.path);
    auto doc = ptload::open_file(c.path);
    REQUIRE(doc);
    ptload::memory_sink sink;
    auto done = ptload::write_converted(*doc, sink, format, all_but(*doc, c.skip));
    REQUIRE_MESSAGE(done, done.err().what());
    CHECK(done->bytes == sink.bytes.size());
    const bool npz = format == ptload::convert_format::npz;
    auto arrays = npz ? read_npz(sink.bytes) : read_safetensors(sink.bytes);
    CHECK(done->tensors == arrays.size());
    compare(c.path, arrays, c.skip, npz);
}

using ptload_test::sample;

} // namespace

TEST_CASE("convert: safetensors of every dtype it has, views, shared storages, scalars, empty tensors") {
    const std::vector<case_t> cases = {
        {sample, {}},
        // views of one storage (transposed, strided, expanded, overlapping, permuted,
        // channels_last), 0-d tensors, [0, 6] and [2, 0] tensors, shared storages
        {fixture("views_zip_p2.pt"), {}},
        {fixture("views_legacy_p2.pt"), {}},
        {fixture("legacy_storage_views_p2.pt"), {}},
        {fixture("dtypes_zip_p2.pt"), {"complex64", "complex128", "qint8", "quint8", "qint32"}},
        {fixture("dtypes_legacy_p2.pt"), {"complex64", "complex128", "qint8", "quint8", "qint32"}},
        {fixture("v3_new_dtypes_zip_p2.pt"), {"complex32"}},    // float8 kinds, uint16
        {fixture("records_byteorder_big_zip_p2.pt"), {"c64"}},  // a big-endian file
        {fixture("zip_deflated_p2.pt"), {}},
    };
    for (const auto& c : cases) check_conversion(c, ptload::convert_format::safetensors);
}

TEST_CASE("convert: npz of every dtype numpy has, views, shared storages, scalars, empty tensors") {
    const std::vector<case_t> cases = {
        {sample, {}},
        {fixture("views_zip_p2.pt"), {}},
        {fixture("views_legacy_p2.pt"), {}},
        {fixture("legacy_storage_views_p2.pt"), {}},
        {fixture("dtypes_zip_p2.pt"), {"bfloat16", "qint8", "quint8", "qint32"}},  // complex64/128 included
        {fixture("dtypes_legacy_p2.pt"), {"bfloat16", "qint8", "quint8", "qint32"}},
        {fixture("v3_new_dtypes_zip_p2.pt"), {"e4m3", "e4m3_t_view", "e5m2", "complex32"}},
        {fixture("records_byteorder_big_zip_p2.pt"), {}},
        {fixture("zip_deflated_p2.pt"), {}},
    };
    for (const auto& c : cases) check_conversion(c, ptload::convert_format::npz);
}

TEST_CASE("convert: the layouts, byte for byte where numpy and safetensors fix them") {
    auto doc = ptload::open_file(sample);
    REQUIRE(doc);
    ptload::memory_sink st;
    REQUIRE(ptload::write_safetensors(*doc, st));
    const std::string prefix = "{\"__metadata__\":{\"format\":\"pt\"},\"model.fc1.weight\":{\"dtype\":\"F32\",\"shape\":[8,4],"
                               "\"data_offsets\":[0,128]},\"model.fc1.bias\":{\"dtype\":\"F32\",\"shape\":[8],"
                               "\"data_offsets\":[128,160]}";
    REQUIRE(st.bytes.size() > 8 + prefix.size());
    CHECK(std::string(st.bytes.begin() + 8, st.bytes.begin() + 8 + static_cast<std::ptrdiff_t>(prefix.size())) == prefix);
    const std::string scalar = "\"optimizer.state.0.step\":{\"dtype\":\"F32\",\"shape\":[],";
    CHECK(std::string(st.bytes.begin(), st.bytes.end()).find(scalar) != std::string::npos);

    ptload::memory_sink npz;
    REQUIRE(ptload::write_npz(*doc, npz));
    bool end64 = true;
    auto members = read_zip(npz.bytes, end64);
    CHECK_FALSE(end64);
    REQUIRE(members.size() == 17);
    std::string header;
    read_npy(members[0], &header);  // numpy.save's own header for a float32 [8, 4] array
    CHECK(header == "{'descr': '<f4', 'fortran_order': False, 'shape': (8, 4), }" + std::string(58, ' ') + "\n");
    read_npy(members[1], &header);
    CHECK(header.find("'shape': (8,), }") != std::string::npos);
    read_npy(members[4], &header);  // optimizer.state.0.step, a 0-d tensor
    CHECK(members[4].name == "optimizer.state.0.step.npy");
    CHECK(header.find("'shape': (), }") != std::string::npos);
}

TEST_CASE("convert: zip64 fields, as zipfile's force_zip64 writes them, read back the same") {
    ptload::convert_options o;
    o.force_zip64 = true;
    for (const char* name : {"views_zip_p2.pt", "legacy_storage_views_p2.pt"}) {
        auto doc = ptload::open_file(fixture(name));
        REQUIRE(doc);
        ptload::memory_sink sink;
        REQUIRE(ptload::write_npz(*doc, sink, o));
        bool zip64 = true;
        compare(fixture(name), read_npz(sink.bytes, &zip64), {}, true);
    }
}

TEST_CASE("convert: a lazily opened checkpoint is read tensor by tensor and keeps nothing") {
    for (auto format : {ptload::convert_format::safetensors, ptload::convert_format::npz}) {
        auto doc = ptload::open_file(fixture("views_zip_p2.pt"));
        REQUIRE(doc);
        ptload::memory_sink sink;
        REQUIRE(ptload::write_converted(*doc, sink, format));
        // contiguous tensors were read into the output, views through a scratch span: no
        // storage was made resident (which would keep it until the document goes)
        for (const auto& row : ptload::list_tensors(*doc)) CHECK_FALSE(row.tensor_value.as_tensor()->is_resident());
    }
}

TEST_CASE("convert: what a format cannot hold is refused, naming the tensor, and nothing is written") {
    auto dtypes = ptload::open_file(fixture("dtypes_zip_p2.pt"));
    REQUIRE(dtypes);
    ptload::memory_sink sink;
    auto bf16 = ptload::write_npz(*dtypes, sink);  // bfloat16 comes before the complex and quantized tensors
    REQUIRE_FALSE(bf16);
    CHECK(bf16.err().code == ptload::errc::unsupported);
    CHECK(bf16.err().what() ==
          "unsupported in tensor 'bfloat16': numpy has no bfloat16 dtype: convert to .safetensors instead, or leave "
          "the tensor out (--select)");
    CHECK(sink.bytes.empty());

    auto complex = ptload::write_safetensors(*dtypes, sink);
    REQUIRE_FALSE(complex);
    CHECK(complex.err().what() ==
          "unsupported in tensor 'complex64': complex64 has no safetensors dtype: convert to .npz instead, or leave the "
          "tensor out (--select)");
    CHECK(sink.bytes.empty());

    ptload::convert_options quantized;
    quantized.select = {"qint8"};
    for (auto format : {ptload::convert_format::safetensors, ptload::convert_format::npz}) {
        auto q = ptload::write_converted(*dtypes, sink, format, quantized);
        REQUIRE_FALSE(q);
        CHECK(q.err().context == "tensor 'qint8'");
        CHECK(q.err().message.find("dequantize it in torch first") != std::string::npos);
    }

    auto v3 = ptload::open_file(fixture("v3_new_dtypes_zip_p2.pt"));
    REQUIRE(v3);
    ptload::convert_options float8;
    float8.select = {"e5m2"};
    auto e5m2 = ptload::write_npz(*v3, sink, float8);
    REQUIRE_FALSE(e5m2);
    CHECK(e5m2.err().what().find("tensor 'e5m2': numpy has no float8_e5m2 dtype: convert to .safetensors") != std::string::npos);
    ptload::convert_options complex32;
    complex32.select = {"complex32"};
    auto c32 = ptload::write_safetensors(*v3, sink, complex32);
    REQUIRE_FALSE(c32);
    CHECK(c32.err().message == "complex32 has no safetensors dtype; leave the tensor out (--select)");
    CHECK(sink.bytes.empty());

    ptload::convert_options unknown;
    unknown.select = {"float32", "nope", "float32", "also.missing"};
    auto missing = ptload::write_safetensors(*dtypes, sink, unknown);
    REQUIRE_FALSE(missing);
    CHECK(missing.err().code == ptload::errc::not_found);
    CHECK(missing.err().message == "no tensor named 'nope', 'also.missing' (`ptload ls` lists the names)");
    CHECK(sink.bytes.empty());

    ptload::load_options meta;
    meta.map_location = "meta";
    auto on_meta = ptload::open_file(sample, meta);
    REQUIRE(on_meta);
    auto no_data = ptload::write_npz(*on_meta, sink);
    REQUIRE_FALSE(no_data);
    CHECK(no_data.err().context == "tensor 'model.fc1.weight'");
    CHECK(sink.bytes.empty());
}

TEST_CASE("convert: --select writes the named tensors only, in listing order") {
    auto doc = ptload::open_file(sample);
    REQUIRE(doc);
    ptload::convert_options o;
    o.select = {"embedding", "model.fc2.bias"};
    ptload::memory_sink sink;
    auto done = ptload::write_safetensors(*doc, sink, o);
    REQUIRE(done);
    CHECK(done->tensors == 2);
    auto arrays = read_safetensors(sink.bytes);
    REQUIRE(arrays.size() == 2);
    CHECK(arrays[0].name == "model.fc2.bias");
    CHECK(arrays[1].name == "embedding");
    CHECK(arrays[1].dtype == "F16");
    CHECK(arrays[1].shape == std::vector<std::int64_t>{5, 3});
}

TEST_CASE("convert: a sink that fails stops the conversion with an io_error") {
    struct failing_sink final : ptload::byte_sink {
        std::size_t room;
        explicit failing_sink(std::size_t n) : room(n) {}
        bool write(const void*, std::size_t n) override {
            if (n > room) return false;
            room -= n;
            return true;
        }
    };
    auto doc = ptload::open_file(sample);
    REQUIRE(doc);
    for (std::size_t room : {std::size_t{0}, std::size_t{100}, std::size_t{1000}}) {
        failing_sink a(room), b(room);
        auto st = ptload::write_safetensors(*doc, a);
        REQUIRE_FALSE(st);
        CHECK(st.err().code == ptload::errc::io_error);
        auto z = ptload::write_npz(*doc, b);
        REQUIRE_FALSE(z);
        CHECK(z.err().code == ptload::errc::io_error);
    }
}

TEST_CASE("convert: progress is told tensor by tensor, from 0 to the tensors' bytes") {
    auto doc = ptload::open_file(sample);
    REQUIRE(doc);
    std::uint64_t want = 0;
    const auto rows = ptload::list_tensors(*doc);
    for (const auto& r : rows) {
        ptload::tensor t = r.tensor_value.as_tensor().value();
        want += t.numel() * ptload::element_size(t.dtype());
    }
    for (auto format : {ptload::convert_format::safetensors, ptload::convert_format::npz}) {
        std::vector<std::pair<std::uint64_t, std::uint64_t>> calls;
        ptload::convert_options o;
        o.progress = [](void* log, std::uint64_t done, std::uint64_t total) {
            static_cast<std::vector<std::pair<std::uint64_t, std::uint64_t>>*>(log)->emplace_back(done, total);
        };
        o.progress_context = &calls;
        ptload::memory_sink out;
        REQUIRE(ptload::write_converted(*doc, out, format, o));
        REQUIRE(calls.size() == rows.size() + 1);
        CHECK(calls.front() == std::make_pair(std::uint64_t{0}, want));
        CHECK(calls.back() == std::make_pair(want, want));
        for (std::size_t i = 1; i < calls.size(); ++i) CHECK(calls[i].first > calls[i - 1].first);
    }
}
