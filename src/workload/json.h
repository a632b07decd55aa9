// A JSON reader for rt-app workload files, lenient where rt-app's files are:
// C comments (/* */ and //), trailing commas, and repeated keys, which are
// kept in file order (workgen renames them run, run1, ...; order is meaning:
// events run in the order they are listed). Every value remembers where it
// was read, so that errors can name the line and column. As workgen does,
// a bare key "suspend" with no value is accepted (it becomes null).
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kp::json {

struct position {
    int line = 1;
    int column = 1;
    int file = 0;  // which of several merged files (an index the caller keeps)
};

class value;
using member = std::pair<std::string, value>;

enum class kind { null, boolean, number, string, array, object };

class value {
public:
    kind type = kind::null;
    position pos;
    bool b = false;
    double num = 0;
    bool is_integer = false;
    std::int64_t integer = 0;
    std::string str;
    std::vector<value> items;     // array
    std::vector<member> members;  // object, in file order, duplicates kept

    bool is_object() const { return type == kind::object; }
    bool is_array() const { return type == kind::array; }
    bool is_string() const { return type == kind::string; }
    bool is_number() const { return type == kind::number; }
    bool is_bool() const { return type == kind::boolean; }
    // First member named `key`, or null.
    const value* find(std::string_view key) const;
};

const char* kind_name(kind k);

// A syntax error, with the position of the offending character.
class parse_error : public std::runtime_error {
public:
    parse_error(position p, const std::string& what) : std::runtime_error(what), pos(p) {}
    position pos;
};

value parse(std::string_view text, int file = 0);

}  // namespace kp::json
