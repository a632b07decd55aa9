// The "global" object, kpreempt's extension inside it, and the check that
// every name a workload uses refers to something.
#include <algorithm>
#include <set>

#include "kernel/irq/irq.h"
#include "kernel/irq/softirq.h"

#include "kernel/preempt/model.h"
#include "workload/reader.h"

namespace kp::workload {

namespace {

void read_costs(reader& r, cost_model& c, const json::value& v, const std::string& path) {
    r.need(v, json::kind::object, path);
    for (const auto& [key, item] : v.members) {
        const std::string p = path + "." + key;
        if (key == "context_switch") c.context_switch = r.usecs(item, p);
        else if (key == "irq_entry") c.irq_entry = r.usecs(item, p);
        else if (key == "irq_exit") c.irq_exit = r.usecs(item, p);
        else if (key == "tick") c.tick = r.usecs(item, p);
        else if (key == "ipi_latency") c.ipi_latency = r.usecs(item, p);
        else r.fail(item, p, "unknown cost (context_switch, irq_entry, irq_exit, tick, ipi_latency)");
    }
}

// A softirq vector by Linux's name. TIMER, HI and TASKLET have their own
// keys (timers, tasklet), whose handlers own those vectors.
int read_vector(reader& r, const json::value& v, const std::string& path) {
    const std::string n = r.name(v, path);
    for (unsigned nr = 0; nr < NR_SOFTIRQS; ++nr) {
        if (n != softirq_to_name[nr]) continue;
        if (nr == TIMER_SOFTIRQ) r.fail(v, path, "TIMER runs the kernel's timers: use \"timers\" for timer work");
        if (nr == HI_SOFTIRQ || nr == TASKLET_SOFTIRQ)
            r.fail(v, path, n + " runs tasklets: use \"tasklet\" (and \"tasklet_hi\")");
        return static_cast<int>(nr);
    }
    r.fail(v, path, "unknown softirq '" + n + "' (NET_TX, NET_RX, BLOCK, IRQ_POLL, SCHED, HRTIMER, RCU)");
}

// The arrival keys, shared by lines and NMI sources; true if `key` was one.
bool read_arrival(reader& r, irq_source_def& d, const std::string& key, const json::value& item,
                  const std::string& p) {
    irq_arrivals& a = d.arrivals;
    if (key == "start") a.start = r.usecs(item, p);
    else if (key == "stop") a.stop = r.usecs(item, p);
    else if (key == "period") a.period = r.usecs(item, p);
    else if (key == "rate") {
        r.need(item, json::kind::number, p);
        if (item.num <= 0 || item.num > 1e7) r.fail(item, p, "rate must be above 0 and at most 10 MHz");
        a.rate_hz = item.num;
    } else if (key == "burst") a.burst = static_cast<int>(r.integer(item, p, 1, 100000));
    else if (key == "burst_gap") a.burst_gap = r.usecs(item, p);
    else return false;
    return true;
}

irq_source_def read_irq(reader& r, const std::string& name, const json::value& v, const std::string& path) {
    r.need(v, json::kind::object, path);
    irq_source_def d;
    d.name = name;
    d.path = path;
    bool has_cpu = false;
    for (const auto& [key, item] : v.members) {
        const std::string p = path + "." + key;
        if (read_arrival(r, d, key, item, p)) continue;
        if (key == "cpu" || key == "affinity") {
            if (has_cpu) r.fail(item, p, "give \"cpu\" or \"affinity\", once");
            has_cpu = true;
            d.affinity = key == "cpu" ? std::vector<int>{static_cast<int>(r.integer(item, p, 0, 255))}
                                      : r.cpu_list(item, p);
        } else if (key == "handler") d.handler = r.usecs(item, p);
        else if (key == "thread") d.thread = r.usecs(item, p);
        else if (key == "no_thread") d.no_thread = r.boolean(item, p);
        else if (key == "softirq") d.softirq = read_vector(r, item, p);
        else if (key == "softirq_cost") d.softirq_cost = r.usecs(item, p);
        else if (key == "tasklet") d.tasklet = r.usecs(item, p);
        else if (key == "tasklet_hi") d.tasklet_hi = r.boolean(item, p);
        else if (key == "work") d.work = r.usecs(item, p);
        else if (key == "work_delay") d.work_delay = r.usecs(item, p);
        else if (key == "nmi") d.nmi = r.boolean(item, p);
        else if (key == "wakes") d.wakes = r.name(item, p);
        else
            r.fail(item, p,
                   "unknown key (cpu, affinity, start, stop, period, rate, burst, burst_gap, handler, thread, no_thread, "
                   "softirq, softirq_cost, tasklet, tasklet_hi, work, work_delay, nmi, wakes)");
    }
    if ((d.arrivals.period > 0) == (d.arrivals.rate_hz > 0)) r.fail(v, path, "give exactly one of \"period\" (µs) or \"rate\" (Hz)");
    if (d.softirq_cost > 0 && d.softirq < 0) r.fail(v, path, "\"softirq_cost\" needs \"softirq\" (a vector name)");
    if (d.work_delay > 0 && !d.work) r.fail(v, path, "\"work_delay\" needs \"work\"");
    if (d.tasklet_hi && !d.tasklet) r.fail(v, path, "\"tasklet_hi\" needs \"tasklet\"");
    if (d.nmi && (d.thread || d.softirq >= 0 || d.tasklet || d.work || !d.wakes.empty() || d.affinity.size() > 1))
        r.fail(v, path, "an NMI source has only cpu, arrivals and handler (an NMI handler cannot wake or defer work)");
    return d;
}

timer_def read_timer(reader& r, const std::string& name, const json::value& v, const std::string& path) {
    r.need(v, json::kind::object, path);
    timer_def t;
    t.name = name;
    t.path = path;
    for (const auto& [key, item] : v.members) {
        const std::string p = path + "." + key;
        if (key == "cpu") t.cpu = static_cast<int>(r.integer(item, p, 0, 255));
        else if (key == "start") t.start = r.usecs(item, p);
        else if (key == "period") t.period = r.usecs(item, p);
        else if (key == "cost") t.cost = r.usecs(item, p);
        else r.fail(item, p, "unknown key (cpu, start, period, cost)");
    }
    if (t.period <= 0) r.fail(v, path, "a timer needs \"period\" (µs, above 0)");
    return t;
}

void read_kpreempt(reader& r, global_def& g, const json::value& v, const std::string& path) {
    r.need(v, json::kind::object, path);
    for (const auto& [key, item] : v.members) {
        const std::string p = path + "." + key;
        if (key == "model") {
            const std::string m = r.name(item, p);
            g.model = parse_preempt_mode(m);
            if (!g.model) r.fail(item, p, "unknown model '" + m + "' (none, voluntary, full)");
        } else if (key == "cpus") g.cpus = static_cast<int>(r.integer(item, p, 1, 256));
        else if (key == "hz") g.hz = static_cast<int>(r.integer(item, p, 1, 10000));
        else if (key == "seed") g.seed = static_cast<std::uint64_t>(r.integer(item, p, 0, INT64_MAX));
        else if (key == "costs") read_costs(r, g.costs, item, p);
        else if (key == "threadirqs") g.threadirqs = r.boolean(item, p);
        else if (key == "ksoftirqd_defer") g.ksoftirqd_defer = r.boolean(item, p);
        else if (key == "irqs") {
            r.need(item, json::kind::object, p);
            for (const auto& [name, iv] : item.members) g.irqs.push_back(read_irq(r, name, iv, p + "." + name));
            const std::size_t lines = static_cast<std::size_t>(
                std::count_if(g.irqs.begin(), g.irqs.end(), [](const irq_source_def& d) { return !d.nmi; }));
            if (lines > NR_IRQS) r.fail(item, p, "more than " + std::to_string(NR_IRQS) + " interrupt lines");
        } else if (key == "timers") {
            r.need(item, json::kind::object, p);
            for (const auto& [name, tv] : item.members) g.timers.push_back(read_timer(r, name, tv, p + "." + name));
        } else r.fail(item, p, "unknown kpreempt setting (model, cpus, hz, seed, costs, threadirqs, ksoftirqd_defer, irqs, timers)");
    }
}

}  // namespace

sched_policy parse_policy(reader& r, const json::value& v, const std::string& path) {
    const std::string s = r.name(v, path);
    if (s == "SCHED_OTHER") return sched_policy::normal;
    if (s == "SCHED_BATCH") return sched_policy::batch;
    if (s == "SCHED_IDLE") return sched_policy::idle;
    if (s == "SCHED_FIFO") return sched_policy::fifo;
    if (s == "SCHED_RR") return sched_policy::rr;
    if (s == "SCHED_DEADLINE") r.fail(v, path, "SCHED_DEADLINE is not supported (no deadline class yet)");
    r.fail(v, path, "unknown policy '" + s + "'");
}

void read_global(reader& r, global_def& g, const json::value& v, const std::string& path) {
    r.need(v, json::kind::object, path);
    for (const auto& [key, item] : v.members) {
        const std::string p = path + "." + key;
        if (key == "duration") {
            const std::int64_t d = r.integer(item, p, -1, static_cast<std::int64_t>(86400));
            if (d == 0) r.fail(item, p, "duration must be -1 or at least 1 second");
            g.duration = d < 0 ? -1 : secs(d);
        } else if (key == "default_policy") {
            g.default_policy = parse_policy(r, item, p);
        } else if (key == "pi_enabled") {
            r.need(item, json::kind::boolean, p);
            g.pi_enabled = item.b;
            if (item.b) r.warn(item, p, "priority inheritance is not modelled: mutexes do not boost");
        } else if (key == "kpreempt") {
            read_kpreempt(r, g, item, p);
        } else if (key == "calibration" || key == "lock_pages" || key == "logdir" || key == "log_basename" ||
                   key == "log_size" || key == "ftrace" || key == "gnuplot" || key == "io_device" ||
                   key == "mem_buffer_size" || key == "cumulative_slack") {
            // rt-app's own logging and calibration: no meaning in virtual time.
        } else {
            r.warn(item, p, "unknown key ignored");
        }
    }
}

namespace {

struct names {
    std::set<std::string> locked, waited_conds, suspended;
};

void collect(const std::vector<event>& events, const std::string& task, names& n,
             std::vector<const event*>& name_users) {
    for (const event& e : events) {
        switch (e.type) {
        case ev::lock: n.locked.insert(e.ref); break;
        case ev::suspend: n.suspended.insert(e.ref.empty() ? task : e.ref); break;
        case ev::unlock: name_users.push_back(&e); break;
        case ev::wait:
        case ev::sync:
            n.waited_conds.insert(e.ref);
            name_users.push_back(&e);
            break;
        case ev::signal:
        case ev::broad: name_users.push_back(&e); break;
        case ev::resume: name_users.push_back(&e); break;
        default: break;
        }
        collect(e.body, task, n, name_users);
    }
}

}  // namespace

void check_references(reader& r, const workload& w) {
    names n;
    std::vector<const event*> users;
    std::set<std::string> tasks;
    for (const task_def& t : w.tasks) {
        tasks.insert(t.name);
        for (const phase& ph : t.phases) collect(ph.events, t.name, n, users);
    }
    json::value at;
    for (const event* e : users) {
        at.pos = e->pos;
        switch (e->type) {
        case ev::unlock:
            if (!n.locked.count(e->ref)) r.fail(at, e->path, "mutex '" + e->ref + "' is never locked");
            break;
        case ev::wait:
        case ev::sync:
            if (!n.locked.count(e->mutex)) r.fail(at, e->path, "mutex '" + e->mutex + "' is never locked");
            break;
        case ev::signal:
        case ev::broad:
            // Conditions are one namespace: waits, syncs and suspends.
            if (!n.waited_conds.count(e->ref) && !n.suspended.count(e->ref))
                r.fail(at, e->path, "nobody waits on '" + e->ref + "'");
            break;
        case ev::resume:
            // rt-app 1.0 names the suspend condition; newer rt-app uses the
            // suspending task's own name. Either must exist.
            if (!n.suspended.count(e->ref) && !n.waited_conds.count(e->ref) && !tasks.count(e->ref))
                r.fail(at, e->path, "nobody suspends on '" + e->ref + "' and no task has that name");
            break;
        default: break;
        }
    }
    for (const irq_source_def& d : w.global.irqs) {
        at.pos = {};
        if (!d.wakes.empty() && !tasks.count(d.wakes) && !n.suspended.count(d.wakes) && !n.waited_conds.count(d.wakes))
            r.fail(at, d.path + ".wakes", "no task named '" + d.wakes + "' and nobody waits on it");
        if (w.global.cpus)
            for (int c : d.affinity)
                if (c >= *w.global.cpus) r.fail(at, d.path + ".cpu", "CPU " + std::to_string(c) + " does not exist");
    }
    for (const timer_def& t : w.global.timers) {
        at.pos = {};
        if (w.global.cpus && t.cpu >= *w.global.cpus)
            r.fail(at, t.path + ".cpu", "CPU " + std::to_string(t.cpu) + " does not exist");
    }
}

}  // namespace kp::workload
