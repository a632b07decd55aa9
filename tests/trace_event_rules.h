// A strict JSON reader and the rules a Chrome / Perfetto trace-event file
// must follow to import without surprises (docs/tracing.md, "Perfetto
// JSON"). For tests: trace_rule_violations() returns what is wrong, one
// line each, so that a failing test says which event broke which rule.
//
// The workload reader (src/workload/json.h) is lenient on purpose (comments,
// trailing commas, repeated keys); this one accepts RFC 8259 JSON only.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace kp::trace_rules {

struct jvalue {
    enum class kind { null, boolean, number, string, array, object } type = kind::null;
    std::string text;  // a string's value, or a number exactly as written
    bool b = false;
    std::vector<jvalue> items;
    std::vector<std::pair<std::string, jvalue>> members;  // in file order

    const jvalue* find(std::string_view key) const {
        for (const auto& [k, v] : members)
            if (k == key) return &v;
        return nullptr;
    }
    bool is(kind k) const { return type == k; }
};

class strict_reader {
public:
    explicit strict_reader(std::string_view s) : s_(s) {}

    jvalue document() {
        jvalue v = value();
        skip_ws();
        if (i_ != s_.size()) fail("text after the document");
        return v;
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw std::runtime_error("JSON at offset " + std::to_string(i_) + ": " + what);
    }
    void skip_ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) ++i_;
    }
    char peek() {
        skip_ws();
        if (i_ >= s_.size()) fail("unexpected end");
        return s_[i_];
    }
    void expect(char c) {
        if (peek() != c) fail(std::string("expected '") + c + "'");
        ++i_;
    }
    void literal(std::string_view word) {
        if (s_.substr(i_, word.size()) != word) fail("bad literal");
        i_ += word.size();
    }

    jvalue value() {
        const char c = peek();
        jvalue v;
        if (c == '{') return object();
        if (c == '[') return array();
        if (c == '"') {
            v.type = jvalue::kind::string;
            v.text = string();
        } else if (c == 't' || c == 'f') {
            v.type = jvalue::kind::boolean;
            v.b = c == 't';
            literal(v.b ? "true" : "false");
        } else if (c == 'n') {
            literal("null");
        } else {
            v.type = jvalue::kind::number;
            v.text = number();
        }
        return v;
    }

    jvalue object() {
        jvalue v;
        v.type = jvalue::kind::object;
        expect('{');
        if (peek() == '}') {
            ++i_;
            return v;
        }
        for (;;) {
            if (peek() != '"') fail("expected a key");
            std::string key = string();
            expect(':');
            v.members.emplace_back(std::move(key), value());
            if (peek() == '}') {
                ++i_;
                return v;
            }
            expect(',');
        }
    }

    jvalue array() {
        jvalue v;
        v.type = jvalue::kind::array;
        expect('[');
        if (peek() == ']') {
            ++i_;
            return v;
        }
        for (;;) {
            v.items.push_back(value());
            if (peek() == ']') {
                ++i_;
                return v;
            }
            expect(',');
        }
    }

    std::string string() {
        ++i_;  // the opening quote
        std::string out;
        while (i_ < s_.size() && s_[i_] != '"') {
            const char c = s_[i_++];
            if (static_cast<unsigned char>(c) < 0x20) fail("raw control character in a string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i_ >= s_.size()) fail("unterminated escape");
            const char e = s_[i_++];
            if (e == 'u') {
                if (i_ + 4 > s_.size()) fail("short \\u escape");
                for (int k = 0; k < 4; ++k)
                    if (!std::isxdigit(static_cast<unsigned char>(s_[i_ + static_cast<std::size_t>(k)])))
                        fail("bad \\u escape");
                out += static_cast<char>(std::strtol(std::string(s_.substr(i_, 4)).c_str(), nullptr, 16));
                i_ += 4;
            } else if (const auto at = std::string_view("\"\\/bfnrt").find(e); at != std::string_view::npos) {
                out += "\"\\/\b\f\n\r\t"[at];
            } else {
                fail("bad escape");
            }
        }
        if (i_ >= s_.size()) fail("unterminated string");
        ++i_;
        return out;
    }

    // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    std::string number() {
        const std::size_t begin = i_;
        auto digits = [&] {
            const std::size_t from = i_;
            while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
            return i_ - from;
        };
        if (i_ < s_.size() && s_[i_] == '-') ++i_;
        const bool leading_zero = i_ < s_.size() && s_[i_] == '0';
        const std::size_t whole = digits();
        if (whole == 0 || (leading_zero && whole > 1)) fail("bad number");
        if (i_ < s_.size() && s_[i_] == '.' && (++i_, digits() == 0)) fail("bad fraction");
        if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
            ++i_;
            if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
            if (digits() == 0) fail("bad exponent");
        }
        return std::string(s_.substr(begin, i_ - begin));
    }

    std::string_view s_;
    std::size_t i_ = 0;
};

// A time as this project writes it: µs with exactly three decimals, read
// back as integer ns (no floating point, so no rounding either way).
// Digits only, after an optional minus.
inline bool all_digits(std::string_view s) {
    if (!s.empty() && s.front() == '-') s.remove_prefix(1);
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

inline bool ns_of(const jvalue* v, std::int64_t& ns) {
    if (!v || !v->is(jvalue::kind::number)) return false;
    const std::string& t = v->text;  // -?[0-9]+\.[0-9]{3}
    if (t.size() < 5 || t[t.size() - 4] != '.') return false;
    const std::string digits = t.substr(0, t.size() - 4) + t.substr(t.size() - 3);
    if (!all_digits(t.substr(0, t.size() - 4)) || !all_digits(t.substr(t.size() - 3))) return false;
    ns = std::stoll(digits);
    return true;
}

inline bool int_of(const jvalue* v, std::int64_t& n) {
    if (!v || !v->is(jvalue::kind::number) || !all_digits(v->text)) return false;
    n = std::stoll(v->text);
    return true;
}

inline std::string str_of(const jvalue* v) { return v && v->is(jvalue::kind::string) ? v->text : std::string(); }

// The checks, one pass over the events in file order.
class rule_checker {
public:
    std::vector<std::string> run(const jvalue& doc) {
        if (!doc.is(jvalue::kind::object) || doc.members.empty() || doc.members.front().first != "traceEvents" ||
            !doc.members.front().second.is(jvalue::kind::array)) {
            bad(-1, "the document must be an object whose first key is the traceEvents array");
            return out_;
        }
        const auto& events = doc.members.front().second.items;
        for (std::size_t i = 0; i < events.size(); ++i) check(static_cast<long>(i), events[i]);
        finish();
        return out_;
    }

private:
    using thread = std::pair<std::int64_t, std::int64_t>;  // pid, tid
    struct slice {
        std::int64_t ts, end;
        long index;
    };
    struct imported {
        long index;
        char ph;
        std::int64_t ts, dur;
        thread th;
    };
    struct flow_key {
        std::string cat, name;
        std::int64_t id;
        auto operator<=>(const flow_key&) const = default;
    };

    void bad(long i, const std::string& what) { out_.push_back("event " + std::to_string(i) + ": " + what); }

    void check(long i, const jvalue& e) {
        if (!e.is(jvalue::kind::object)) return bad(i, "not an object");
        const std::string ph = str_of(e.find("ph"));
        if (ph == "M") return metadata(i, e);
        std::int64_t ts = 0, pid = 0, tid = 0;
        if (!ns_of(e.find("ts"), ts)) return bad(i, "ts missing, or not us with 3 decimals");
        if (!int_of(e.find("pid"), pid)) return bad(i, "pid missing or not an integer");
        if (ph == "C") return counter(i, e, ts, pid);
        if (!int_of(e.find("tid"), tid)) return bad(i, "tid missing or not an integer");
        if (str_of(e.find("name")).empty() && ph != "E") bad(i, "no name");
        note_tid(i, pid, tid);
        const thread th{pid, tid};
        if (last_ts_.count(th) && ts < last_ts_[th]) bad(i, "ts goes back on its track");
        last_ts_[th] = ts;
        imported_.push_back({i, ph[0], ts, 0, th});
        if (ph == "X") complete(i, e, th, ts);
        else if (ph == "B") open_[th].push_back(str_of(e.find("name")));
        else if (ph == "E") end(i, e, th);
        else if (ph == "i" || ph == "I") instant(i, e);
        else if (ph == "s" || ph == "f") flow(i, e, ph[0], ts);
        else bad(i, "unknown ph '" + ph + "'");
    }

    void metadata(long i, const jvalue& e) {
        const std::string name = str_of(e.find("name"));
        const jvalue* args = e.find("args");
        std::int64_t pid = 0, tid = 0, n = 0;
        if (!int_of(e.find("pid"), pid)) bad(i, "metadata without pid");
        if (!args || !args->is(jvalue::kind::object)) return bad(i, "metadata without args");
        const bool thread_meta = name == "thread_name" || name == "thread_sort_index";
        if (thread_meta && !int_of(e.find("tid"), tid)) bad(i, name + " without tid");
        if (thread_meta) note_tid(i, pid, tid);
        if (name == "process_name" || name == "thread_name") {
            if (str_of(args->find("name")).empty()) bad(i, name + " without args.name");
        } else if (name == "process_sort_index" || name == "thread_sort_index") {
            if (!int_of(args->find("sort_index"), n)) bad(i, name + " without integer args.sort_index");
        } else {
            bad(i, "unknown metadata '" + name + "'");
        }
    }

    // A tid seen under two pids: Perfetto makes it a new thread each time.
    void note_tid(long i, std::int64_t pid, std::int64_t tid) {
        auto [it, fresh] = pid_of_tid_.emplace(tid, pid);
        if (!fresh && it->second != pid) bad(i, "tid " + std::to_string(tid) + " under two pids");
    }

    void counter(long i, const jvalue& e, std::int64_t ts, std::int64_t pid) {
        const jvalue* args = e.find("args");
        if (!args || !args->is(jvalue::kind::object) || args->members.empty()) return bad(i, "counter without args");
        for (const auto& [key, v] : args->members) {
            if (!v.is(jvalue::kind::number)) bad(i, "counter value " + key + " not a number");
            const auto track = std::make_tuple(pid, str_of(e.find("name")), key);
            if (counter_ts_.count(track) && ts < counter_ts_[track]) bad(i, "counter ts goes back on its track");
            counter_ts_[track] = ts;
        }
    }

    void complete(long i, const jvalue& e, const thread& th, std::int64_t ts) {
        std::int64_t dur = 0;
        if (!ns_of(e.find("dur"), dur)) return bad(i, "X without dur in us with 3 decimals");
        if (dur < 0) return bad(i, "negative dur");
        slices_[th].push_back({ts, ts + dur, i});
        imported_.back().dur = dur;
    }

    void end(long i, const jvalue& e, const thread& th) {
        auto& stack = open_[th];
        if (stack.empty()) return bad(i, "E without a B on its track");
        const std::string name = str_of(e.find("name"));
        if (!name.empty() && name != stack.back()) bad(i, "E named " + name + " closes " + stack.back());
        stack.pop_back();
    }

    void instant(long i, const jvalue& e) {
        const std::string s = str_of(e.find("s"));
        if (!s.empty() && s != "t" && s != "p" && s != "g") bad(i, "instant scope '" + s + "'");
    }

    // Flow ids pair up, start before end (binding: perfetto_import()).
    void flow(long i, const jvalue& e, char ph, std::int64_t ts) {
        std::int64_t id = 0;
        if (!int_of(e.find("id"), id)) return bad(i, "flow without integer id");
        const flow_key key{str_of(e.find("cat")), str_of(e.find("name")), id};
        if (ph == 's') {
            if (!starts_.emplace(key, ts).second) bad(i, "flow id used twice");
            return;
        }
        if (str_of(e.find("bp")) != "e") bad(i, "flow end without \"bp\":\"e\"");
        const auto s = starts_.find(key);
        if (s == starts_.end()) return bad(i, "flow end before (or without) its start");
        if (ts < s->second) bad(i, "flow ends before it starts");
        if (!ends_.insert(key).second) bad(i, "flow ended twice");
    }

    static thread pid_tid(const jvalue& e) {
        std::int64_t pid = 0, tid = 0;
        int_of(e.find("pid"), pid);
        int_of(e.find("tid"), tid);
        return {pid, tid};
    }

    // Complete events on one track nest or are disjoint (closed-open);
    // nesting is read as Perfetto reads it: same start, longest first.
    void nesting(const thread& th, std::vector<slice> v) {
        std::stable_sort(v.begin(), v.end(), [](const slice& a, const slice& b) {
            return a.ts != b.ts ? a.ts < b.ts : a.end > b.end;
        });
        std::vector<slice> stack;
        for (const slice& s : v) {
            while (!stack.empty() && stack.back().end <= s.ts) stack.pop_back();
            if (!stack.empty() && s.end > stack.back().end)
                bad(s.index, "X overlaps event " + std::to_string(stack.back().index) + " on track " +
                                 std::to_string(th.first) + "/" + std::to_string(th.second));
            stack.push_back(s);
        }
    }

    // Perfetto's import, reduced to what binds flows: events sorted by ts
    // (newer versions: at one ts, E first, then X longest first, then the
    // rest in file order; older ones: file order), a slice stack per track
    // where a slice ending at a new event's ts is popped (closed-open; two
    // instants stack), and a flow event binding to the top of its track's
    // stack. Each flow event must bind to a slice that begins at its ts:
    // a start to the wakeup's instant, an end to the run it caused (not an
    // instant).
    void perfetto_import(bool newer) {
        auto key = [newer](const imported& e) -> std::int64_t {
            constexpr std::int64_t max = std::numeric_limits<std::int64_t>::max();
            if (!newer) return 0;
            return e.ph == 'E' ? std::numeric_limits<std::int64_t>::min() : e.ph == 'X' ? max - e.dur : max;
        };
        std::vector<imported> order = imported_;
        std::stable_sort(order.begin(), order.end(), [&](const imported& a, const imported& b) {
            return a.ts != b.ts ? a.ts < b.ts : key(a) < key(b);
        });
        struct open {
            std::int64_t ts, end;  // end -1: a B not yet ended
            bool instant;
        };
        std::map<thread, std::vector<open>> stacks;
        const std::string how = newer ? " (newer Perfetto)" : " (older Perfetto)";
        for (const imported& e : order) {
            auto& stack = stacks[e.th];
            const bool instant = e.ph == 'i' || e.ph == 'I';
            if (e.ph == 'X' || e.ph == 'B' || instant) {
                const std::int64_t dur = e.ph == 'B' ? -1 : instant ? 0 : e.dur;
                while (!stack.empty() && stack.back().end >= 0 &&
                       (stack.back().end < e.ts ||
                        (stack.back().end == e.ts && !(stack.back().end == stack.back().ts && dur == 0))))
                    stack.pop_back();
                stack.push_back({e.ts, dur < 0 ? -1 : e.ts + dur, instant});
            } else if (e.ph == 'E') {
                if (!stack.empty()) stack.pop_back();
            } else if (e.ph == 's' || e.ph == 'f') {
                if (stack.empty() || stack.back().ts != e.ts)
                    bad(e.index, std::string("flow ") + e.ph + " binds to no slice beginning at its ts" + how);
                else if (e.ph == 'f' && stack.back().instant)
                    bad(e.index, "flow end binds to an instant, not a slice" + how);
            }
        }
    }

    void finish() {
        perfetto_import(true);
        perfetto_import(false);
        for (const auto& [th, stack] : open_)
            if (!stack.empty()) bad(-1, "B without E on track " + std::to_string(th.second) + ": " + stack.back());
        for (const auto& [key, ts] : starts_)
            if (!ends_.count(key)) bad(-1, "flow " + std::to_string(key.id) + " starts but never ends");
        for (const auto& [th, v] : slices_) nesting(th, v);
    }

    std::vector<std::string> out_;
    std::map<thread, std::int64_t> last_ts_;
    std::vector<imported> imported_;
    std::map<thread, std::vector<std::string>> open_;
    std::map<thread, std::vector<slice>> slices_;
    std::map<std::tuple<std::int64_t, std::string, std::string>, std::int64_t> counter_ts_;
    std::map<std::int64_t, std::int64_t> pid_of_tid_;
    std::map<flow_key, std::int64_t> starts_;
    std::set<flow_key> ends_;
};

inline std::vector<std::string> trace_rule_violations(std::string_view json) {
    jvalue doc;
    try {
        doc = strict_reader(json).document();
    } catch (const std::exception& e) {
        return {e.what()};
    }
    return rule_checker().run(doc);
}

}  // namespace kp::trace_rules
