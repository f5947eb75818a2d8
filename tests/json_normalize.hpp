// tests/json_normalize.hpp: the canonical-JSON comparison form, identical to the oracle's
// `json.dumps(obj, sort_keys=True, separators=(',', ':'), ensure_ascii=True)` after sorting
// the items of every "set"/"frozenset" (whose order does not matter) by their own form.
#ifndef PTLOAD_TESTS_JSON_NORMALIZE_HPP
#define PTLOAD_TESTS_JSON_NORMALIZE_HPP

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ptload_test {

struct json {
    enum type_t { null, boolean, number, string, array, object } type = null;
    std::string text;  // number literal, boolean literal, or decoded string (UTF-8, surrogates as WTF-8)
    std::vector<json> items;             // array items, or object values
    std::vector<std::string> keys;       // object keys, parallel to items (a pair would need json complete)
};

class json_parser {
public:
    explicit json_parser(std::string_view s) : s_(s) {}
    bool parse(json& out) {
        if (!value(out, 0)) return false;
        ws();
        return i_ == s_.size();
    }

private:
    void ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) ++i_;
    }
    static void utf8(std::string& out, std::uint32_t cp) {
        if (cp < 0x80) out += static_cast<char>(cp);
        else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }
    bool hex4(std::uint32_t& cp) {
        if (i_ + 4 > s_.size()) return false;
        cp = 0;
        for (int k = 0; k < 4; ++k) {
            char c = s_[i_++];
            cp <<= 4;
            if (c >= '0' && c <= '9') cp |= static_cast<std::uint32_t>(c - '0');
            else if (c >= 'a' && c <= 'f') cp |= static_cast<std::uint32_t>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') cp |= static_cast<std::uint32_t>(c - 'A' + 10);
            else return false;
        }
        return true;
    }
    bool str(std::string& out) {
        if (i_ >= s_.size() || s_[i_] != '"') return false;
        ++i_;
        while (i_ < s_.size() && s_[i_] != '"') {
            char c = s_[i_++];
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i_ >= s_.size()) return false;
            char e = s_[i_++];
            switch (e) {
            case '"': out += '"'; break;
            case '\\': out += '\\'; break;
            case '/': out += '/'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u': {
                std::uint32_t cp;
                if (!hex4(cp)) return false;
                // a high surrogate followed by \u low surrogate is one code point (as json.loads)
                if (cp >= 0xD800 && cp < 0xDC00 && i_ + 6 <= s_.size() && s_[i_] == '\\' && s_[i_ + 1] == 'u') {
                    std::size_t save = i_;
                    i_ += 2;
                    std::uint32_t lo;
                    if (hex4(lo) && lo >= 0xDC00 && lo < 0xE000) cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    else i_ = save;
                }
                utf8(out, cp);
                break;
            }
            default: return false;
            }
        }
        if (i_ >= s_.size()) return false;
        ++i_;
        return true;
    }
    bool value(json& v, int depth) {
        if (depth > 100000) return false;
        ws();
        if (i_ >= s_.size()) return false;
        char c = s_[i_];
        if (c == '{') {
            ++i_;
            v.type = json::object;
            ws();
            if (i_ < s_.size() && s_[i_] == '}') return ++i_, true;
            for (;;) {
                ws();
                std::string key;
                if (!str(key)) return false;
                ws();
                if (i_ >= s_.size() || s_[i_++] != ':') return false;
                v.items.emplace_back();
                if (!value(v.items.back(), depth + 1)) return false;
                v.keys.push_back(std::move(key));
                ws();
                if (i_ < s_.size() && s_[i_] == ',') { ++i_; continue; }
                if (i_ < s_.size() && s_[i_] == '}') return ++i_, true;
                return false;
            }
        }
        if (c == '[') {
            ++i_;
            v.type = json::array;
            ws();
            if (i_ < s_.size() && s_[i_] == ']') return ++i_, true;
            for (;;) {
                v.items.emplace_back();
                if (!value(v.items.back(), depth + 1)) return false;
                ws();
                if (i_ < s_.size() && s_[i_] == ',') { ++i_; continue; }
                if (i_ < s_.size() && s_[i_] == ']') return ++i_, true;
                return false;
            }
        }
        if (c == '"') {
            v.type = json::string;
            return str(v.text);
        }
        std::size_t start = i_;
        while (i_ < s_.size() && std::string_view("-+0123456789.eEtruefalsn").find(s_[i_]) != std::string_view::npos) ++i_;
        v.text = std::string(s_.substr(start, i_ - start));
        if (v.text == "null") v.type = json::null;
        else if (v.text == "true" || v.text == "false") v.type = json::boolean;
        else if (!v.text.empty()) v.type = json::number;
        else return false;
        return true;
    }
    std::string_view s_;
    std::size_t i_ = 0;
};

/// Python json.dumps(ensure_ascii=True) string form.
inline void emit_string(std::string& out, const std::string& s) {
    static const char* hex = "0123456789abcdef";
    auto u = [&](std::uint32_t cp) {
        out += "\\u";
        for (int k = 3; k >= 0; --k) out += hex[(cp >> (4 * k)) & 15];
    };
    out += '"';
    for (std::size_t i = 0; i < s.size();) {
        auto c = static_cast<unsigned char>(s[i]);
        std::uint32_t cp;
        std::size_t len;
        if (c < 0x80) { cp = c; len = 1; }
        else if (c < 0xE0) { cp = c & 0x1F; len = 2; }
        else if (c < 0xF0) { cp = c & 0x0F; len = 3; }
        else { cp = c & 0x07; len = 4; }
        for (std::size_t k = 1; k < len && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
        i += len;
        switch (cp) {
        case '"': out += "\\\""; continue;
        case '\\': out += "\\\\"; continue;
        case '\n': out += "\\n"; continue;
        case '\r': out += "\\r"; continue;
        case '\t': out += "\\t"; continue;
        case '\b': out += "\\b"; continue;
        case '\f': out += "\\f"; continue;
        default: break;
        }
        if (cp >= 0x20 && cp < 0x7F) out += static_cast<char>(cp);  // json.dumps keeps ' '..'~' only
        else if (cp < 0x10000) u(cp);
        else {
            cp -= 0x10000;
            u(0xD800 + (cp >> 10));
            u(0xDC00 + (cp & 0x3FF));
        }
    }
    out += '"';
}

inline std::string normalize(const json& v);

inline void emit(std::string& out, const json& v, bool sort_items) {
    switch (v.type) {
    case json::null: out += "null"; return;
    case json::boolean:
    case json::number: out += v.text; return;
    case json::string: emit_string(out, v.text); return;
    case json::array: {
        std::vector<std::string> parts;
        for (const auto& it : v.items) parts.push_back(normalize(it));
        if (sort_items) std::sort(parts.begin(), parts.end());
        out += '[';
        for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? "," : "") + parts[i];
        out += ']';
        return;
    }
    case json::object: {
        std::vector<std::size_t> order(v.keys.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v.keys[a] < v.keys[b]; });
        out += '{';
        for (std::size_t i = 0; i < order.size(); ++i) {
            if (i) out += ',';
            const std::string& key = v.keys[order[i]];
            emit_string(out, key);
            out += ':';
            emit(out, v.items[order[i]], key == "set" || key == "frozenset");
        }
        out += '}';
        return;
    }
    }
}

inline std::string normalize(const json& v) {
    std::string out;
    emit(out, v, false);
    return out;
}

/// Normalized form of a JSON text, or "<invalid JSON>" when it does not parse.
inline std::string normalize(std::string_view text) {
    json v;
    json_parser p(text);
    if (!p.parse(v)) return "<invalid JSON>";
    return normalize(v);
}

} // namespace ptload_test

#endif
