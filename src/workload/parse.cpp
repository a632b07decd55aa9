// rt-app's grammar (doc/tutorial.txt, src/rt-app_parse_config.c), read into
// a workload. Every error names file:line:column and the JSON path.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "workload/reader.h"

namespace kp::workload {

const char* ev_name(ev e) {
    static const char* const names[] = {"run",     "runtime",   "sleep",   "timer",          "lock",
                                        "unlock",  "wait",      "signal",  "broad",          "sync",
                                        "barrier", "suspend",   "resume",  "yield",          "mem",
                                        "iorun",   "sem_post",  "sem_wait", "kp_syscall",    "kp_preempt_off",
                                        "kp_irq_off", "kp_spin", "kp_might_sleep", "kp_cond_resched"};
    return names[static_cast<int>(e)];
}

namespace {


// rt-app's event prefixes, in its order (obj_is_event): "runtime" before
// "run", "memrun" before "mem"; then our own.
struct prefix {
    const char* name;
    std::optional<ev> type;  // nullopt: known to rt-app, not honoured here
};
constexpr prefix event_prefixes[] = {
    {"lock", ev::lock},        {"unlock", ev::unlock},   {"wait", ev::wait},         {"signal", ev::signal},
    {"broad", ev::broad},      {"sync", ev::sync},       {"sleep", ev::sleep},       {"runtime", ev::runtime},
    {"run", ev::run},          {"timer", ev::timer},     {"suspend", ev::suspend},   {"resume", ev::resume},
    {"memrun", std::nullopt},  {"mem", ev::mem},         {"iorun", ev::iorun},       {"yield", ev::yield},
    {"barrier", ev::barrier},  {"fork", std::nullopt},   {"sem_post", ev::sem_post}, {"sem_wait", ev::sem_wait},
    {"kp_syscall", ev::kp_syscall}, {"kp_preempt_off", ev::kp_preempt_off}, {"kp_irq_off", ev::kp_irq_off},
    {"kp_spin", ev::kp_spin}, {"kp_might_sleep", ev::kp_might_sleep}, {"kp_cond_resched", ev::kp_cond_resched},
};

const prefix* match_event(const std::string& key) {
    for (const prefix& p : event_prefixes)
        if (key.rfind(p.name, 0) == 0) return &p;
    return nullptr;
}

// Keys of a task or phase that set attributes; true if `key` was one.
bool read_attr(reader& r, attrs& a, const std::string& key, const json::value& v, const std::string& path) {
    if (key == "policy") {
        a.policy = parse_policy(r, v, path);
    } else if (key == "priority") {
        a.priority = static_cast<int>(r.integer(v, path, -20, 99));
    } else if (key == "cpus") {
        a.cpus = r.cpu_list(v, path);
    } else {
        return false;
    }
    return true;
}

void read_events_into(reader& r, std::vector<event>& out, const json::value& obj, const std::string& path,
                      bool in_section);

event read_event(reader& r, ev type, const std::string& key, const json::value& v, const std::string& path) {
    event e;
    e.type = type;
    e.key = key;
    e.path = path;
    e.pos = v.pos;
    switch (type) {
    case ev::run:
    case ev::runtime:
    case ev::sleep: e.ns = r.usecs(v, path); break;
    case ev::mem:
    case ev::iorun: e.bytes = r.integer(v, path, 0, std::int64_t{1} << 40); break;
    case ev::timer: {
        r.need(v, json::kind::object, path);
        const json::value* ref = v.find("ref");
        const json::value* period = v.find("period");
        if (!ref) r.fail(v, path, "timer needs \"ref\"");
        if (!period) r.fail(v, path, "timer needs \"period\"");
        e.ref = r.name(*ref, path + ".ref");
        e.ns = r.usecs(*period, path + ".period");
        if (const json::value* mode = v.find("mode")) {
            const std::string m = r.name(*mode, path + ".mode");
            if (m != "relative" && m != "absolute") r.fail(*mode, path + ".mode", "expected \"relative\" or \"absolute\"");
            e.absolute = m == "absolute";
        }
        break;
    }
    case ev::wait:
    case ev::sync: {
        r.need(v, json::kind::object, path);
        const json::value* ref = v.find("ref");
        const json::value* mutex = v.find("mutex");
        if (!ref || !mutex) r.fail(v, path, std::string(ev_name(type)) + " needs \"ref\" and \"mutex\"");
        e.ref = r.name(*ref, path + ".ref");
        e.mutex = r.name(*mutex, path + ".mutex");
        break;
    }
    case ev::suspend:
    case ev::yield:
        if (!v.is_string() && v.type != json::kind::null) r.need(v, json::kind::string, path);
        e.ref = v.is_string() ? v.str : std::string();  // an empty suspend means the task's own name
        break;
    case ev::kp_might_sleep:
    case ev::kp_cond_resched: break;
    case ev::kp_syscall:
    case ev::kp_preempt_off:
    case ev::kp_irq_off:
    case ev::kp_spin:
        r.need(v, json::kind::object, path);
        if (type == ev::kp_spin) {
            const json::value* ref = v.find("ref");
            if (!ref) r.fail(v, path, "kp_spin needs \"ref\" (the spinlock's name)");
            e.ref = r.name(*ref, path + ".ref");
        }
        if (const json::value* loop = v.find("loop")) e.loop = static_cast<int>(r.integer(*loop, path + ".loop", 1, 1000000));
        read_events_into(r, e.body, v, path, true);
        break;
    default: e.ref = r.name(v, path); break;  // lock, unlock, signal, broad, barrier, resume, sem_*
    }
    return e;
}

void read_events_into(reader& r, std::vector<event>& out, const json::value& obj, const std::string& path,
                      bool in_section) {
    for (const auto& [key, v] : obj.members) {
        const std::string p = path + "." + key;
        if (in_section && (key == "loop" || key == "ref")) continue;
        const prefix* pre = match_event(key);
        if (!pre) continue;  // not an event: the caller handles the key
        if (!pre->type) r.fail(v, p, std::string("the '") + pre->name + "' event is not supported");
        if (in_section && *pre->type == ev::kp_syscall) r.fail(v, p, "kp_syscall cannot nest inside a section");
        out.push_back(read_event(r, *pre->type, key, v, p));
    }
}

bool is_legacy_key(const std::string& key) {
    return key == "exec" || key == "period" || key == "deadline" || key == "sleep" || key == "lock_order" ||
           key == "resources";
}

// A phase object: its events (or, in the legacy grammar, what its
// exec/period/lock_order translate to), its loop and its attributes.
void read_phase(reader& r, phase& ph, const json::value& v, const std::string& path, const legacy_types& types) {
    r.need(v, json::kind::object, path);
    const bool legacy = is_legacy(v);
    if (legacy) ph.events = read_legacy_phase(r, v, path, types, ph.name).events;
    for (const auto& [key, item] : v.members) {
        const std::string p = path + "." + key;
        if (legacy ? is_legacy_key(key) : match_event(key) != nullptr) continue;
        if (key == "loop") ph.loop = static_cast<int>(r.integer(item, p, 1, 1000000000));
        else if (read_attr(r, ph.a, key, item, p)) continue;
        else if (key.rfind("kp_", 0) == 0) r.fail(item, p, "unknown kpreempt extension '" + key + "'");
        else r.fail(item, p, "unknown event or phase property '" + key + "'");
    }
    if (!legacy) read_events_into(r, ph.events, v, path, false);
    if (ph.events.empty()) r.fail(v, path, "a phase without events");
}

// The keys of a task object that are not its events or phases.
void read_task_keys(reader& r, task_def& t, const json::value& v, const std::string& path, bool legacy) {
    for (const auto& [key, item] : v.members) {
        const std::string p = path + "." + key;
        if (legacy ? is_legacy_key(key) : match_event(key) != nullptr) continue;
        if (key == "instance") t.instance = static_cast<int>(r.integer(item, p, 0, 10000));
        else if (key == "loop") t.loop = static_cast<int>(r.integer(item, p, -1, 1000000000));
        else if (key == "delay") t.delay = r.usecs(item, p);
        else if (key == "phases") continue;
        else if (read_attr(r, t.a, key, item, p)) continue;
        else if (key.rfind("kp_", 0) == 0) r.fail(item, p, "unknown kpreempt extension '" + key + "'");
        else if (key.rfind("dl-", 0) == 0 || key == "util_min" || key == "util_max" || key == "taskgroup" ||
                 key == "nodes_membind")
            r.warn(item, p, "not modelled, ignored");
        else r.fail(item, p, "unknown event or task property '" + key + "'");
    }
    if (t.loop == 0) r.fail(*v.find("loop"), path + ".loop", "loop must be -1 (forever) or at least 1");
}

void apply_policy_defaults(reader& r, task_def& t, const json::value& v, const std::string& path,
                           sched_policy default_policy) {
    if (!t.a.policy) t.a.policy = default_policy;
    const bool rt = *t.a.policy == sched_policy::fifo || *t.a.policy == sched_policy::rr;
    if (!t.a.priority) t.a.priority = rt ? 10 : 0;  // rt-app's defaults
    if (rt && (*t.a.priority < 1 || *t.a.priority > 99)) r.fail(v, path + ".priority", "RT priority must be 1 to 99");
    if (!rt && (*t.a.priority < -20 || *t.a.priority > 19)) r.fail(v, path + ".priority", "nice must be -20 to 19");
}

task_def read_task(reader& r, const std::string& name, const json::value& v, const std::string& path,
                   sched_policy default_policy, const legacy_types& types) {
    r.need(v, json::kind::object, path);
    task_def t;
    t.name = name;
    t.path = path;
    t.pos = v.pos;
    const bool legacy = is_legacy(v);
    read_task_keys(r, t, v, path, legacy);
    const json::value* phases = v.find("phases");
    const bool has_events =
        std::any_of(v.members.begin(), v.members.end(), [](const json::member& m) { return match_event(m.first); });
    if (phases && (legacy || has_events)) r.fail(v, path, "events at task level beside a \"phases\" object");
    if (phases) {
        r.need(*phases, json::kind::object, path + ".phases");
        for (const auto& [pname, pv] : phases->members) {
            phase ph;
            ph.name = pname;
            read_phase(r, ph, pv, path + ".phases." + pname, types);
            t.phases.push_back(std::move(ph));
        }
        if (t.phases.empty()) r.fail(*phases, path + ".phases", "no phases");
    } else if (legacy) {
        t.phases.push_back(read_legacy_phase(r, v, path, types, "phase0"));
    } else {
        phase single;
        single.name = "phase0";
        read_events_into(r, single.events, v, path, false);
        if (single.events.empty()) r.fail(v, path, "a task without events");
        t.phases.push_back(std::move(single));
    }
    apply_policy_defaults(r, t, v, path, default_policy);
    return t;
}

json::value parse_json(std::string_view text, const std::string& file, int index) {
    try {
        return json::parse(text, index);
    } catch (const json::parse_error& e) {
        throw workload_error(file + ":" + std::to_string(e.pos.line) + ":" + std::to_string(e.pos.column) +
                             ": syntax error: " + e.what());
    }
}

std::string read_file(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw workload_error(file + ": cannot open the file");
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// merge.py's rule: top-level keys of later files are added; an object under
// a key already seen is updated member by member (a later member replaces
// an earlier one of the same name).
void merge_into(json::value& doc, json::value&& more) {
    for (auto& [key, v] : more.members) {
        auto it = std::find_if(doc.members.begin(), doc.members.end(), [&](const json::member& m) { return m.first == key; });
        if (it == doc.members.end()) {
            doc.members.emplace_back(key, std::move(v));
        } else if (it->second.is_object() && v.is_object()) {
            for (auto& inner : v.members) {
                auto jt = std::find_if(it->second.members.begin(), it->second.members.end(),
                                       [&](const json::member& m) { return m.first == inner.first; });
                if (jt == it->second.members.end()) it->second.members.push_back(std::move(inner));
                else jt->second = std::move(inner.second);
            }
        } else {
            it->second = std::move(v);
        }
    }
}

workload read_document(const json::value& doc, const std::vector<std::string>& files) {
    workload w;
    w.file = files.front();
    for (std::size_t i = 1; i < files.size(); ++i) w.file += "+" + files[i];
    reader r(files, w);
    r.need(doc, json::kind::object, "$");
    const json::value* tasks = doc.find("tasks");
    if (!tasks) r.fail(doc, "$", "no \"tasks\" object");
    if (const json::value* g = doc.find("global")) read_global(r, w.global, *g, "$.global");
    const legacy_types types = read_legacy_resources(r, doc.find("resources"));
    for (const auto& [key, v] : doc.members)
        if (key != "tasks" && key != "global" && key != "resources") r.warn(v, "$." + key, "unknown key ignored");
    r.need(*tasks, json::kind::object, "$.tasks");
    for (const auto& [name, v] : tasks->members) {
        for (const task_def& t : w.tasks)
            if (t.name == name) r.fail(v, "$.tasks." + name, "a second task named '" + name + "'");
        w.tasks.push_back(read_task(r, name, v, "$.tasks." + name, w.global.default_policy, types));
    }
    if (w.tasks.empty()) r.fail(*tasks, "$.tasks", "no tasks");
    check_references(r, w);
    return w;
}

}  // namespace

workload parse_workload(std::string_view text, const std::string& file) {
    return read_document(parse_json(text, file, 0), {file});
}

workload load_workload(const std::vector<std::string>& files) {
    if (files.empty()) throw workload_error("no workload file");
    json::value doc = parse_json(read_file(files[0]), files[0], 0);
    for (std::size_t i = 1; i < files.size(); ++i) {
        json::value more = parse_json(read_file(files[i]), files[i], static_cast<int>(i));
        if (!more.is_object()) throw workload_error(files[i] + ":1:1: $: expected an object");
        if (!doc.is_object()) throw workload_error(files[0] + ":1:1: $: expected an object");
        merge_into(doc, std::move(more));
    }
    return read_document(doc, files);
}

workload load_workload(const std::string& file) { return load_workload(std::vector<std::string>{file}); }

}  // namespace kp::workload
