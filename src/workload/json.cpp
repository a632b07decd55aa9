#include "workload/json.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace kp::json {

const value* value::find(std::string_view key) const {
    for (const auto& m : members)
        if (m.first == key) return &m.second;
    return nullptr;
}

const char* kind_name(kind k) {
    switch (k) {
    case kind::null: return "null";
    case kind::boolean: return "a boolean";
    case kind::number: return "a number";
    case kind::string: return "a string";
    case kind::array: return "an array";
    case kind::object: return "an object";
    }
    return "?";
}

namespace {

class parser {
public:
    parser(std::string_view text, int file) : s_(text) { pos_.file = file; }

    value document() {
        skip_space();
        value v = parse_value();
        skip_space();
        if (i_ < s_.size()) fail("unexpected text after the top-level value");
        return v;
    }

private:
    [[noreturn]] void fail(const std::string& what) const { throw parse_error(pos_, what); }

    char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
    bool at_end() const { return i_ >= s_.size(); }

    void advance() {
        if (s_[i_] == '\n') {
            ++pos_.line;
            pos_.column = 1;
        } else {
            ++pos_.column;
        }
        ++i_;
    }

    void skip_space() {
        while (!at_end()) {
            const char c = peek();
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                advance();
            } else if (c == '/' && i_ + 1 < s_.size() && s_[i_ + 1] == '*') {
                const position start = pos_;
                advance();
                advance();
                while (!at_end() && !(peek() == '*' && i_ + 1 < s_.size() && s_[i_ + 1] == '/')) advance();
                if (at_end()) throw parse_error(start, "unterminated /* comment");
                advance();
                advance();
            } else if (c == '/' && i_ + 1 < s_.size() && s_[i_ + 1] == '/') {
                while (!at_end() && peek() != '\n') advance();
            } else {
                return;
            }
        }
    }

    void expect(char c, const char* what) {
        if (peek() != c) fail(std::string("expected ") + what);
        advance();
    }

    value parse_value() {
        if (++depth_ > 200) fail("nesting too deep");
        value v;
        v.pos = pos_;
        const char c = peek();
        if (c == '{') parse_object(v);
        else if (c == '[') parse_array(v);
        else if (c == '"') {
            v.type = kind::string;
            v.str = parse_string();
        } else if (c == '-' || (c >= '0' && c <= '9')) parse_number(v);
        else if (literal("true")) {
            v.type = kind::boolean;
            v.b = true;
        } else if (literal("false")) {
            v.type = kind::boolean;
        } else if (literal("null")) {
            v.type = kind::null;
        } else if (at_end()) fail("unexpected end of file");
        else fail(std::string("unexpected character '") + c + "'");
        --depth_;
        return v;
    }

    bool literal(std::string_view word) {
        if (s_.substr(i_, word.size()) != word) return false;
        for (std::size_t k = 0; k < word.size(); ++k) advance();
        return true;
    }

    void parse_object(value& v) {
        v.type = kind::object;
        advance();  // {
        skip_space();
        while (peek() != '}') {
            if (peek() != '"') fail("expected a key in double quotes or '}'");
            const position key_pos = pos_;
            std::string key = parse_string();
            skip_space();
            value item;
            if (key.rfind("suspend", 0) == 0 && (peek() == ',' || peek() == '}')) {
                // workgen's pre-pass: a bare "suspend" means "suspend": "<task name>".
                item.pos = key_pos;
            } else {
                expect(':', "':' after the key");
                skip_space();
                item = parse_value();
            }
            v.members.emplace_back(std::move(key), std::move(item));
            skip_space();
            if (peek() == ',') {
                advance();  // a trailing comma before '}' is accepted
                skip_space();
            } else if (peek() != '}') {
                fail("expected ',' or '}'");
            }
        }
        advance();
    }

    void parse_array(value& v) {
        v.type = kind::array;
        advance();  // [
        skip_space();
        while (peek() != ']') {
            v.items.push_back(parse_value());
            skip_space();
            if (peek() == ',') {
                advance();
                skip_space();
            } else if (peek() != ']') {
                fail("expected ',' or ']'");
            }
        }
        advance();
    }

    std::string parse_string() {
        advance();  // "
        std::string out;
        for (;;) {
            if (at_end()) fail("unterminated string");
            const char c = peek();
            if (c == '"') break;
            if (c == '\n') fail("newline inside a string");
            if (c == '\\') {
                advance();
                if (at_end()) fail("unterminated string");
                out += unescape(peek());
            } else {
                out += c;
            }
            advance();
        }
        advance();
        return out;
    }

    char unescape(char e) {
        switch (e) {
        case '"': return '"';
        case '\\': return '\\';
        case '/': return '/';
        case 'b': return '\b';
        case 'f': return '\f';
        case 'n': return '\n';
        case 'r': return '\r';
        case 't': return '\t';
        default: fail(std::string("unsupported escape '\\") + e + "'");
        }
    }

    void parse_number(value& v) {
        v.type = kind::number;
        const std::size_t start = i_;
        bool integral = true;
        if (peek() == '-') advance();
        while (!at_end()) {
            const char c = peek();
            if (c >= '0' && c <= '9') advance();
            else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
                integral = false;
                advance();
            } else break;
        }
        const std::string text(s_.substr(start, i_ - start));
        char* end = nullptr;
        errno = 0;
        v.num = std::strtod(text.c_str(), &end);
        if (end != text.c_str() + text.size() || text == "-") throw parse_error(v.pos, "malformed number '" + text + "'");
        if (errno == ERANGE || !std::isfinite(v.num)) throw parse_error(v.pos, "number out of range '" + text + "'");
        if (integral) {
            errno = 0;
            v.integer = std::strtoll(text.c_str(), nullptr, 10);
            if (errno == ERANGE) throw parse_error(v.pos, "integer out of range '" + text + "'");
            v.is_integer = true;
        } else if (v.num == std::floor(v.num) && std::fabs(v.num) < 9.0e18) {
            v.integer = static_cast<std::int64_t>(v.num);
            v.is_integer = true;
        }
    }

    std::string_view s_;
    std::size_t i_ = 0;
    position pos_;
    int depth_ = 0;
};

}  // namespace

value parse(std::string_view text, int file) { return parser(text, file).document(); }

}  // namespace kp::json
