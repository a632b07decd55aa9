// The shared pieces of the workload reader: typed access to JSON values
// with errors that name file:line:column and the JSON path.
#pragma once

#include <cmath>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "workload/workload.h"

namespace kp::workload {

inline constexpr double max_event_us = 3600.0e6;  // an hour of virtual time per event is already absurd

class reader {
public:
    // `files`: the files merged into the document, indexed by position::file.
    reader(std::vector<std::string> files, workload& w) : files_(std::move(files)), w_(w) {}

    [[noreturn]] void fail(const json::value& v, const std::string& path, const std::string& what) const {
        std::ostringstream os;
        os << file_of(v) << ":" << v.pos.line << ":" << v.pos.column << ": " << path << ": " << what;
        throw workload_error(os.str());
    }

    void warn(const json::value& v, const std::string& path, const std::string& what) {
        std::ostringstream os;
        os << file_of(v) << ":" << v.pos.line << ":" << v.pos.column << ": " << path << ": warning: " << what;
        w_.warnings.push_back(os.str());
    }

    void need(const json::value& v, json::kind k, const std::string& path) const {
        if (v.type != k)
            fail(v, path, std::string("expected ") + json::kind_name(k) + ", found " + json::kind_name(v.type));
    }

    // A duration in microseconds (fractions allowed), returned in ns.
    nsec_t usecs(const json::value& v, const std::string& path) const {
        need(v, json::kind::number, path);
        if (v.num < 0) fail(v, path, "negative duration");
        if (v.num > max_event_us) fail(v, path, "absurd duration (more than an hour)");
        return static_cast<nsec_t>(std::llround(v.num * 1000.0));
    }

    std::int64_t integer(const json::value& v, const std::string& path, std::int64_t lo, std::int64_t hi) const {
        need(v, json::kind::number, path);
        if (!v.is_integer) fail(v, path, "expected an integer");
        if (v.integer < lo || v.integer > hi)
            fail(v, path, "out of range (" + std::to_string(lo) + " to " + std::to_string(hi) + ")");
        return v.integer;
    }

    std::string name(const json::value& v, const std::string& path, bool may_be_empty = false) const {
        need(v, json::kind::string, path);
        if (v.str.empty() && !may_be_empty) fail(v, path, "empty name");
        return v.str;
    }

    bool boolean(const json::value& v, const std::string& path) const {
        need(v, json::kind::boolean, path);
        return v.b;
    }

    // A non-empty list of CPU numbers ("cpus" of a task, "affinity" of a line).
    std::vector<int> cpu_list(const json::value& v, const std::string& path) const {
        need(v, json::kind::array, path);
        std::vector<int> cpus;
        for (std::size_t i = 0; i < v.items.size(); ++i)
            cpus.push_back(static_cast<int>(integer(v.items[i], path + "[" + std::to_string(i) + "]", 0, 255)));
        if (cpus.empty()) fail(v, path, "empty CPU list");
        return cpus;
    }

    const std::string& file_of(const json::value& v) const {
        return files_.at(static_cast<std::size_t>(v.pos.file));
    }

private:
    std::vector<std::string> files_;
    workload& w_;
};


// A policy name ("SCHED_OTHER", ...), for tasks, phases and default_policy.
sched_policy parse_policy(reader& r, const json::value& v, const std::string& path);
void read_global(reader& r, global_def& g, const json::value& v, const std::string& path);

// rt-app's first grammar (exec / period / lock_order / resources), still used
// by Debian's examples taskset.json and merge/: translated into events.
struct legacy_resource {
    std::string type = "mutex";  // mutex, wait, signal, broadcast, sync, sleep, run
    std::string target;          // the condition a signal / broadcast / sync acts on
};
using legacy_types = std::map<std::string, legacy_resource>;
legacy_types read_legacy_resources(reader& r, const json::value* top_resources);
bool is_legacy(const json::value& obj);
// A task or phase object in the legacy grammar, as one phase.
phase read_legacy_phase(reader& r, const json::value& obj, const std::string& path, const legacy_types& types,
                        const std::string& name);
// Every name used must exist: tasks named by resume / wakes; a mutex
// unlocked somewhere is locked somewhere; and so on.
void check_references(reader& r, const workload& w);

}  // namespace kp::workload
