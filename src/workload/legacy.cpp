// rt-app's first grammar, replaced in Sept 2014 ("simplify the grammar") but
// still in Debian's rt-app examples. A task (or phase) does, every period:
// for each name in lock_order, take the resources that name "access"es
// (depth first, each once) and then the name itself, each by its type in
// the global "resources" object (default: mutex); busy-wait the name's
// "duration" (a sleep resource sleeps it instead); release the mutexes in
// reverse. Then busy-wait what is left of "exec", and with "sleep" (the
// default) wait for the next period on an absolute grid.
#include <algorithm>

#include "workload/reader.h"

namespace kp::workload {

bool is_legacy(const json::value& obj) {
    return obj.is_object() && (obj.find("exec") || obj.find("lock_order"));
}

legacy_types read_legacy_resources(reader& r, const json::value* top) {
    legacy_types types;
    if (!top) return types;
    r.need(*top, json::kind::object, "$.resources");
    static const char* const known[] = {"mutex", "wait", "signal", "broadcast", "sync", "sleep", "run"};
    for (const auto& [name, v] : top->members) {
        const std::string path = "$.resources." + name;
        r.need(v, json::kind::object, path);
        legacy_resource res;
        if (const json::value* t = v.find("type")) {
            res.type = r.name(*t, path + ".type");
            if (std::find(std::begin(known), std::end(known), res.type) == std::end(known))
                r.fail(*t, path + ".type", "unknown resource type '" + res.type + "'");
        }
        if (res.type == "signal" || res.type == "broadcast" || res.type == "sync") {
            const json::value* target = v.find("target");
            if (!target) r.fail(v, path, "a " + res.type + " resource needs a \"target\"");
            res.target = r.name(*target, path + ".target");
        }
        types[name] = res;
    }
    for (const auto& [name, res] : types) {
        if (res.target.empty()) continue;
        auto it = types.find(res.target);
        if (it == types.end() || it->second.type != "wait")
            r.fail(*top->find(name), "$.resources." + name + ".target",
                   "target '" + res.target + "' is not a resource of type wait");
    }
    return types;
}

namespace {

std::string resource_name(reader& r, const json::value& v, const std::string& path) {
    if (v.is_number() && v.is_integer) return std::to_string(v.integer);
    return r.name(v, path);
}

// serialize_acl: the name, then what it accesses, depth first, no repeats;
// finally the name itself moves to the end (it is taken last).
void collect_acl(reader& r, const std::string& name, const json::value* task_res, const std::string& path,
                 std::vector<std::string>& acl, int depth) {
    if (depth > 64) r.fail(*task_res, path, "resources access each other in a cycle");
    if (std::find(acl.begin(), acl.end(), name) == acl.end()) acl.push_back(name);
    const json::value* res = task_res ? task_res->find(name) : nullptr;
    if (!res) return;
    r.need(*res, json::kind::object, path + "." + name);
    const json::value* access = res->find("access");
    if (!access) return;
    r.need(*access, json::kind::array, path + "." + name + ".access");
    for (std::size_t i = 0; i < access->items.size(); ++i)
        collect_acl(r, resource_name(r, access->items[i], path + "." + name + ".access[" + std::to_string(i) + "]"),
                    task_res, path, acl, depth + 1);
}

event make(ev type, const json::value& at, const std::string& path, std::string ref = {}, std::string mutex = {},
           nsec_t ns = 0) {
    event e;
    e.type = type;
    e.key = ev_name(type);
    e.path = path;
    e.pos = at.pos;
    e.ref = std::move(ref);
    e.mutex = std::move(mutex);
    e.ns = ns;
    return e;
}

// One entry of lock_order: take, hold, release. Returns the busy time used.
nsec_t blockage(reader& r, const std::string& name, const json::value& at, const json::value* task_res,
                const std::string& path, const legacy_types& types, std::vector<event>& out) {
    std::vector<std::string> acl;
    collect_acl(r, name, task_res, path + ".resources", acl, 0);
    std::rotate(acl.begin(), acl.begin() + 1, acl.end());
    const json::value* res = task_res ? task_res->find(name) : nullptr;
    const nsec_t usage = res && res->find("duration") ? r.usecs(*res->find("duration"), path + ".resources." + name + ".duration") : 0;
    auto type_of = [&](const std::string& n) { auto it = types.find(n); return it == types.end() ? legacy_resource{} : it->second; };
    bool busy = true;
    for (std::size_t k = 0; k < acl.size(); ++k) {
        const legacy_resource t = type_of(acl[k]);
        const std::string prev = k ? acl[k - 1] : std::string();
        if ((t.type == "wait" || t.type == "sync") && (prev.empty() || type_of(prev).type != "mutex"))
            r.fail(at, path, "'" + acl[k] + "' waits, so it must access a mutex first");
        if (t.type == "mutex") out.push_back(make(ev::lock, at, path, acl[k]));
        else if (t.type == "wait") out.push_back(make(ev::wait, at, path, acl[k], prev));
        else if (t.type == "signal") out.push_back(make(ev::signal, at, path, t.target));
        else if (t.type == "broadcast") out.push_back(make(ev::broad, at, path, t.target));
        else if (t.type == "sync") {
            out.push_back(make(ev::signal, at, path, t.target));
            out.push_back(make(ev::wait, at, path, t.target, prev));
        } else if (t.type == "sleep") {
            out.push_back(make(ev::sleep, at, path, {}, {}, usage));
            busy = false;
        }
    }
    if (busy && usage > 0) out.push_back(make(ev::run, at, path, {}, {}, usage));
    for (auto it = acl.rbegin(); it != acl.rend(); ++it)
        if (type_of(*it).type == "mutex") out.push_back(make(ev::unlock, at, path, *it));
    return busy ? usage : 0;
}

}  // namespace

phase read_legacy_phase(reader& r, const json::value& obj, const std::string& path, const legacy_types& types,
                        const std::string& name) {
    phase ph;
    ph.name = name;
    const json::value* exec_v = obj.find("exec");
    if (!exec_v) r.fail(obj, path, "\"lock_order\" without \"exec\"");
    const nsec_t exec = r.usecs(*exec_v, path + ".exec");
    const json::value* period_v = obj.find("period");
    const nsec_t period = period_v ? r.usecs(*period_v, path + ".period") : exec;
    if (period <= 0) r.fail(period_v ? *period_v : *exec_v, path + ".period", "the period must be positive");
    if (exec > period) r.fail(*exec_v, path + ".exec", "exec is longer than the period");
    if (const json::value* dl = obj.find("deadline")) {
        const nsec_t d = r.usecs(*dl, path + ".deadline");
        if (d < exec || d > period) r.fail(*dl, path + ".deadline", "the deadline must lie between exec and the period");
    }
    bool sleep = true;
    if (const json::value* s = obj.find("sleep")) {
        r.need(*s, json::kind::boolean, path + ".sleep");
        sleep = s->b;
    }
    const json::value* task_res = obj.find("resources");
    if (task_res) r.need(*task_res, json::kind::object, path + ".resources");
    nsec_t left = exec;
    if (const json::value* order = obj.find("lock_order")) {
        r.need(*order, json::kind::array, path + ".lock_order");
        for (std::size_t i = 0; i < order->items.size(); ++i) {
            const std::string p = path + ".lock_order[" + std::to_string(i) + "]";
            const nsec_t used = blockage(r, resource_name(r, order->items[i], p), order->items[i], task_res, path, types,
                                         ph.events);
            left = std::max<nsec_t>(0, left - used);
        }
    }
    if (left > 0) ph.events.push_back(make(ev::run, *exec_v, path + ".exec", {}, {}, left));
    if (sleep) {
        event t = make(ev::timer, period_v ? *period_v : *exec_v, path + ".period", "unique_legacy_period", {}, period);
        t.absolute = true;
        ph.events.push_back(std::move(t));
    }
    if (ph.events.empty()) ph.events.push_back(make(ev::run, *exec_v, path + ".exec"));  // a zero-exec busy period
    return ph;
}

}  // namespace kp::workload
