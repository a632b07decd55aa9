#include "tracing/perfetto_json.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <string_view>
#include <tuple>
#include <vector>

#include "kernel/kernel.h"
#include "kernel/preempt/model.h"
#include "kpreempt/observer.h"
#include "tracing/perfetto_json_timeline.h"

namespace kp {

namespace {

using namespace perfetto;

// ts and dur: µs with exactly three decimals, printed from the integer ns so
// that nothing is rounded (a double printed with %g keeps six digits only).
std::string usecs_text(nsec_t ns) {
    const bool neg = ns < 0;
    const auto abs = static_cast<unsigned long long>(neg ? -ns : ns);
    char buf[40];
    std::snprintf(buf, sizeof buf, "%s%llu.%03llu", neg ? "-" : "", abs / 1000, abs % 1000);
    return buf;
}

// JSON string escaping. Control characters other than \n \t \r \b \f
// become \u00XX (older Perfetto rejects them, but a comm does not hold them).
void append_string(std::string& out, std::string_view s) {
    out += '"';
    for (const char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        case '\r': out += "\\r"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                out += buf;
            } else {
                out += c;
            }
        }
    }
    out += '"';
}

// One JSON object, its members in the order they are added.
class json_object {
public:
    json_object& str(std::string_view key, std::string_view v) {
        append_string(name(key), v);
        return *this;
    }
    json_object& num(std::string_view key, std::int64_t v) {
        name(key) += std::to_string(v);
        return *this;
    }
    json_object& time(std::string_view key, nsec_t ns) {
        name(key) += usecs_text(ns);
        return *this;
    }
    json_object& boolean(std::string_view key, bool v) {
        name(key) += v ? "true" : "false";
        return *this;
    }
    json_object& obj(std::string_view key, const json_object& o) {
        name(key) += o.text();
        return *this;
    }
    std::string text() const { return s_ + "}"; }

private:
    std::string& name(std::string_view key) {
        if (s_.size() > 1) s_ += ',';
        append_string(s_, key);
        s_ += ':';
        return s_;
    }
    std::string s_ = "{";
};

// pids and tids. Perfetto keys a thread by its tid alone (thread_name, and
// a tid seen under a second pid starts a new thread), so every tid here is
// unique: tasks keep their pid as tid, and the CPU threads and both
// processes take numbers above every pid.
struct track_ids {
    int base = 1000;
    int cpus_pid() const { return base; }
    int cpu_tid(int cpu) const { return base + 1 + cpu; }  // NR_CPUS < 1000 <= base
    int tasks_pid() const { return 2 * base; }
};

track_ids pick_ids(kernel& k) {
    int max_pid = 0;
    for (const auto& t : k.tasks()) max_pid = std::max(max_pid, t->pid);
    track_ids ids;
    while (ids.base <= max_pid) ids.base *= 10;
    return ids;
}

std::string comm_of(kernel& k, int pid) {
    if (pid == 0) return "swapper";
    const task_struct* t = k.find_task(pid);
    return t ? t->comm : "pid " + std::to_string(pid);
}

// sched_switch's prev_state as ftrace prints it.
std::string_view state_text(std::int64_t state) {
    if (state == TRACE_STATE_PREEMPTED) return "R+";
    const auto s = static_cast<unsigned>(state);
    if (s == TASK_RUNNING) return "R";
    if (s & TASK_DEAD) return "X";
    if ((s & TASK_IDLE) == TASK_IDLE) return "I";
    if (s & TASK_UNINTERRUPTIBLE) return "D";
    if (s & TASK_INTERRUPTIBLE) return "S";
    return "?";
}

std::string_view point_text(int point) { return preempt_point_name(static_cast<preempt_point>(point)); }
std::string_view model_text(int model) { return preempt_mode_name(static_cast<preempt_mode>(model)); }

// Why a run ended: the preemption point of a preemption, else what the
// task's state says it went to do.
std::string end_text(const run_span& r) {
    if (r.to_trace_end) return "trace end";
    if (r.preempt_point >= 0) return std::string(point_text(r.preempt_point));
    const std::string_view s = state_text(r.end_state);
    if (s == "S" || s == "D" || s == "I") return "sleep";
    if (s == "X") return "exit";
    if (s == "R") return "yield";
    return "preempted";
}

std::string ctx_name(kernel& k, const ctx_span& s) {
    if (s.softirq)
        return s.nr >= 0 && s.nr < static_cast<int>(NR_SOFTIRQS) ? softirq_to_name[s.nr]
                                                                  : "softirq " + std::to_string(s.nr);
    std::string n = "irq " + std::to_string(s.nr);
    if (s.nr >= 0 && s.nr < NR_IRQS && !k.irq_descs[static_cast<std::size_t>(s.nr)].name.empty())
        n += ": " + k.irq_descs[static_cast<std::size_t>(s.nr)].name;
    return n;
}

std::string_view irq_ret_text(int ret) {
    switch (ret) {
    case 0: return "unhandled";
    case 1: return "handled";
    case 2: return "wake_thread";
    default: return "?";
    }
}

// The head every event on a thread track shares.
json_object event(char ph, std::string_view name, std::string_view cat, nsec_t ts) {
    json_object o;
    o.str("ph", std::string_view(&ph, 1)).str("name", name);
    if (!cat.empty()) o.str("cat", cat);
    o.time("ts", ts);
    return o;
}

json_object on_thread(json_object o, int pid, int tid) { return o.num("pid", pid).num("tid", tid); }

// One track's events, emitted in (ts, order) order: timestamps never go
// back on a track, and at one instant a span comes before what it holds.
struct item {
    nsec_t ts;
    std::int64_t order;
    std::string json;
};

void emit(std::vector<std::string>& out, std::vector<item> items) {
    std::stable_sort(items.begin(), items.end(),
                     [](const item& a, const item& b) { return std::tie(a.ts, a.order) < std::tie(b.ts, b.order); });
    for (item& i : items) out.push_back(std::move(i.json));
}

// The spans and marks of each CPU or task, so that writing a track visits
// its own only.
template <class T, class Key>
std::map<int, std::vector<const T*>> group(const std::vector<T>& all, Key key) {
    std::map<int, std::vector<const T*>> out;
    for (const T& x : all) out[key(x)].push_back(&x);
    return out;
}

template <class T>
const std::vector<const T*>& of(const std::map<int, std::vector<const T*>>& groups, int key) {
    static const std::vector<const T*> none;
    const auto it = groups.find(key);
    return it == groups.end() ? none : it->second;
}

// The writer: one pass per track over the rebuilt timeline.
class writer {
public:
    writer(kernel& k, const timeline& t)
        : k_(k), t_(t), ids_(pick_ids(k)),
          runs_(group(t.runs, [](const run_span& r) { return r.cpu; })),
          ctx_(group(t.ctx, [](const ctx_span& s) { return s.cpu; })),
          wakeups_(group(t.wakeups, [](const wakeup_mark& w) { return w.cpu; })),
          preempts_(group(t.preempts, [](const preempt_mark& p) { return p.cpu; })),
          waits_(group(t.waits, [](const wait_span& w) { return w.pid; })),
          migrations_(group(t.migrations, [](const migrate_mark& m) { return m.pid; })) {}
    std::string text();

private:
    void metadata();
    void cpu_track(int cpu);
    void cpu_runs(int cpu, std::vector<item>& items);
    void cpu_ctx(int cpu, std::vector<item>& items);
    void cpu_marks(int cpu, std::vector<item>& items);
    void counter(int cpu, std::string_view key, const std::vector<counter_sample>& samples);
    void task_track(std::size_t task);
    void task_runs(std::size_t task, std::vector<item>& items);
    void task_waits(int pid, std::vector<item>& items);
    std::string other_data() const;
    std::string meta(std::string_view what, int pid, int tid, const json_object& args) const;
    std::string name_meta(std::string_view what, int pid, int tid, std::string_view name) const;
    std::string sort_meta(std::string_view what, int pid, int tid, int index) const;

    kernel& k_;
    const timeline& t_;
    track_ids ids_;
    std::map<int, std::vector<const run_span*>> runs_;           // by CPU
    std::map<int, std::vector<const ctx_span*>> ctx_;            // by CPU
    std::map<int, std::vector<const wakeup_mark*>> wakeups_;     // by the waker's CPU
    std::map<int, std::vector<const preempt_mark*>> preempts_;   // by CPU
    std::map<int, std::vector<const wait_span*>> waits_;         // by pid
    std::map<int, std::vector<const migrate_mark*>> migrations_; // by pid
    std::vector<std::string> events_;
};

// A metadata event: a name or sort index for a process (tid < 0) or thread.
std::string writer::meta(std::string_view what, int pid, int tid, const json_object& args) const {
    json_object o;
    o.str("ph", "M").str("name", what).num("pid", pid);
    if (tid >= 0) o.num("tid", tid);
    return o.obj("args", args).text();
}

std::string writer::name_meta(std::string_view what, int pid, int tid, std::string_view name) const {
    return meta(what, pid, tid, json_object().str("name", name));
}

std::string writer::sort_meta(std::string_view what, int pid, int tid, int index) const {
    return meta(what, pid, tid, json_object().num("sort_index", index));
}

void writer::metadata() {
    events_.push_back(name_meta("process_name", ids_.cpus_pid(), -1, "CPUs"));
    events_.push_back(sort_meta("process_sort_index", ids_.cpus_pid(), -1, 0));
    for (int c = 0; c < t_.nr_cpus; ++c) {
        events_.push_back(name_meta("thread_name", ids_.cpus_pid(), ids_.cpu_tid(c), "CPU " + std::to_string(c)));
        events_.push_back(sort_meta("thread_sort_index", ids_.cpus_pid(), ids_.cpu_tid(c), c));
    }
    events_.push_back(name_meta("process_name", ids_.tasks_pid(), -1, "Tasks"));
    events_.push_back(sort_meta("process_sort_index", ids_.tasks_pid(), -1, 1));
}

void writer::cpu_runs(int cpu, std::vector<item>& items) {
    for (const run_span* rp : of(runs_, cpu)) {
        const run_span& r = *rp;
        if (r.pid == 0) continue;  // idle shows as no slice
        json_object args;
        args.num("pid", r.pid);
        if (r.prio >= 0) args.num("prio", r.prio);
        args.str("end", end_text(r));
        if (r.end_state >= 0) args.str("prev_state", state_text(r.end_state));
        if (r.from_trace_start) args.str("start", "before the trace");
        json_object o = event('X', comm_of(k_, r.pid), "sched", r.start).time("dur", r.end - r.start);
        items.push_back({r.start, r.order, on_thread(o, ids_.cpus_pid(), ids_.cpu_tid(cpu)).obj("args", args).text()});
    }
}

void writer::cpu_ctx(int cpu, std::vector<item>& items) {
    for (const ctx_span* sp : of(ctx_, cpu)) {
        const ctx_span& s = *sp;
        json_object args;
        args.num(s.softirq ? "vec" : "irq", s.nr);
        if (!s.softirq && s.ret >= 0) args.str("ret", irq_ret_text(s.ret));
        if (s.from_trace_start) args.str("start", "before the trace");
        if (s.to_trace_end) args.str("end", "trace end");
        json_object o = event('X', ctx_name(k_, s), s.softirq ? "softirq" : "irq", s.start).time("dur", s.end - s.start);
        items.push_back({s.start, s.order, on_thread(o, ids_.cpus_pid(), ids_.cpu_tid(cpu)).obj("args", args).text()});
    }
}

// Wakeups and preemptions as instants. A wakeup that caused a run starts
// its flow right after its instant: a flow start binds to the slice on top
// of its track, which at that moment is the instant itself (binding to the
// irq or run around it would fail when the wakeup is at that slice's end).
void writer::cpu_marks(int cpu, std::vector<item>& items) {
    const int pid = ids_.cpus_pid(), tid = ids_.cpu_tid(cpu);
    for (const wakeup_mark* wp : of(wakeups_, cpu)) {
        const wakeup_mark& w = *wp;
        json_object args;
        args.num("pid", w.pid).str("comm", comm_of(k_, w.pid)).num("prio", w.prio).num("target_cpu", w.target_cpu);
        json_object o = event('i', w.new_task ? "sched_wakeup_new" : "sched_wakeup", "sched", w.time);
        items.push_back({w.time, w.order, on_thread(o, pid, tid).str("s", "t").obj("args", args).text()});
        if (!w.flow_out) continue;
        json_object s = on_thread(event('s', "wakeup", "sched", w.time), pid, tid).num("id", w.flow_out);
        items.push_back({w.time, w.order + 1, s.text()});
    }
    for (const preempt_mark* pp : of(preempts_, cpu)) {
        const preempt_mark& p = *pp;
        // kpreempt_preempt also marks the idle loop leaving for work and a
        // task's exit: neither preempts anyone (the run's "end" says exit).
        const auto point = static_cast<preempt_point>(p.point);
        if (point == preempt_point::idle || point == preempt_point::exit) continue;
        json_object args;
        args.str("point", point_text(p.point)).str("model", model_text(p.model));
        args.num("prev_pid", p.prev_pid).str("prev_comm", comm_of(k_, p.prev_pid));
        args.num("next_pid", p.next_pid).str("next_comm", comm_of(k_, p.next_pid));
        json_object o = event('i', "preempt at " + std::string(point_text(p.point)), "preempt", p.time);
        items.push_back({p.time, p.order, on_thread(o, pid, tid).str("s", "t").obj("args", args).text()});
    }
    const ring_stats& r = t_.rings[static_cast<std::size_t>(cpu)];
    if (r.overrun) {
        json_object args;
        args.num("lost", static_cast<std::int64_t>(r.overrun)).num("written", static_cast<std::int64_t>(r.written));
        const nsec_t at = t_.cpu_start[static_cast<std::size_t>(cpu)];
        json_object o = event('i', "trace ring overrun: oldest entries lost", "trace", at);
        items.push_back({at, ORDER_BEFORE_TRACE - 4, on_thread(o, pid, tid).str("s", "t").obj("args", args).text()});
    }
}

// A counter track ("CPU n <key>"): its own track, in time order.
void writer::counter(int cpu, std::string_view key, const std::vector<counter_sample>& samples) {
    for (const counter_sample& s : samples) {
        json_object o = event('C', "CPU " + std::to_string(cpu), "", s.time);
        events_.push_back(on_thread(o, ids_.cpus_pid(), ids_.cpu_tid(cpu)).obj("args", json_object().num(key, s.value)).text());
    }
}

void writer::cpu_track(int cpu) {
    std::vector<item> items;
    cpu_runs(cpu, items);
    cpu_ctx(cpu, items);
    cpu_marks(cpu, items);
    emit(events_, std::move(items));
    counter(cpu, "nr_running", t_.nr_running[static_cast<std::size_t>(cpu)]);
    counter(cpu, "preempt_depth", t_.preempt_depth[static_cast<std::size_t>(cpu)]);
}

// A task's runs, each followed at once by the end of the flow that caused
// it: a flow end ("bp":"e") binds to the slice on top of its track, which
// right after the run's own event is that run.
void writer::task_runs(std::size_t task, std::vector<item>& items) {
    const int pid = t_.task_pids[task];
    for (const task_run& tr : t_.task_runs[task]) {
        const run_span& r = t_.runs[tr.run];
        json_object args;
        args.num("cpu", r.cpu);
        if (r.prio >= 0) args.num("prio", r.prio);
        args.str("end", end_text(r));
        if (r.end_state >= 0) args.str("prev_state", state_text(r.end_state));
        if (r.from_trace_start || tr.start != r.start) args.str("start", "before the trace");
        const std::string name = "Running on CPU " + std::to_string(r.cpu);
        json_object o = event('X', name, "sched", tr.start).time("dur", r.end - tr.start);
        items.push_back({tr.start, static_cast<std::int64_t>(items.size()),
                         on_thread(o, ids_.tasks_pid(), pid).obj("args", args).text()});
        if (!r.flow_in) continue;
        json_object f = on_thread(event('f', "wakeup", "sched", tr.start), ids_.tasks_pid(), pid);
        items.push_back({tr.start, static_cast<std::int64_t>(items.size()), f.num("id", r.flow_in).str("bp", "e").text()});
    }
}

void writer::task_waits(int pid, std::vector<item>& items) {
    for (const wait_span* wp : of(waits_, pid)) {
        const wait_span& w = *wp;
        json_object args;
        if (w.woken) {
            args.num("waker_pid", w.waker_pid).str("waker_comm", comm_of(k_, w.waker_pid)).num("waker_cpu", w.waker_cpu);
        } else if (w.preempt_point >= 0) {
            args.str("point", point_text(w.preempt_point));
        }
        if (w.to_trace_end) args.str("end", "trace end");
        json_object o = event('X', w.woken ? "Runnable (woken)" : "Runnable (preempted)", "sched", w.start);
        o.time("dur", w.end - w.start);
        items.push_back({w.start, static_cast<std::int64_t>(items.size()),
                         on_thread(o, ids_.tasks_pid(), pid).obj("args", args).text()});
    }
    for (const migrate_mark* mp : of(migrations_, pid)) {
        const migrate_mark& m = *mp;
        json_object args;
        args.num("orig_cpu", m.orig_cpu).num("dest_cpu", m.dest_cpu);
        json_object o = on_thread(event('i', "sched_migrate_task", "sched", m.time), ids_.tasks_pid(), pid);
        items.push_back({m.time, static_cast<std::int64_t>(items.size()), o.str("s", "t").obj("args", args).text()});
    }
}

void writer::task_track(std::size_t task) {
    const int pid = t_.task_pids[task];
    events_.push_back(name_meta("thread_name", ids_.tasks_pid(), pid, comm_of(k_, pid)));
    events_.push_back(sort_meta("thread_sort_index", ids_.tasks_pid(), pid, pid));
    std::vector<item> items;
    task_runs(task, items);  // first: a run and its flow end stay together at one instant
    task_waits(pid, items);
    emit(events_, std::move(items));
}

std::string writer::other_data() const {
    json_object written, overrun;
    std::uint64_t lost = 0;
    for (int c = 0; c < t_.nr_cpus; ++c) {
        const ring_stats& r = t_.rings[static_cast<std::size_t>(c)];
        written.num("cpu" + std::to_string(c), static_cast<std::int64_t>(r.written));
        overrun.num("cpu" + std::to_string(c), static_cast<std::int64_t>(r.overrun));
        lost += r.overrun;
    }
    std::string events;
    for (int e = 0; e < NR_TRACE_EVENTS; ++e) {
        if (!(k_.trace.recorded() & trace_bit(static_cast<trace_event>(e)))) continue;
        // Two appends, not "," + name: g++ 12 -O2/-O3 reports a false
        // -Werror=restrict in that operator+.
        if (!events.empty()) events += ',';
        events += trace_event_name(static_cast<trace_event>(e));
    }
    json_object o;
    o.str("generator", "kpreempt").str("clock", "virtual; ts and dur in us, 3 decimals (ns)");
    o.str("model", preempt_mode_name(k_.config().model));
    if (k_.dyn.mode != k_.config().model) o.str("model_at_end", preempt_mode_name(k_.dyn.mode));
    o.num("cpus", t_.nr_cpus).num("hz", k_.config().hz).boolean("threadirqs", k_.config().threadirqs);
    o.str("events", events).time("trace_end", t_.end);
    o.obj("ring_entries_written", written).obj("ring_overrun", overrun).num("entries_lost", static_cast<std::int64_t>(lost));
    if (lost)
        o.str("warning", "trace rings overran: " + std::to_string(lost) +
                             " oldest entries were overwritten; what was open at a CPU's first kept entry starts there");
    if (t_.unmatched_exits) o.num("unmatched_irq_exits", static_cast<std::int64_t>(t_.unmatched_exits));
    return o.text();
}

// traceEvents first: older Perfetto stops reading at a top-level key it
// does not know. No displayTimeUnit: older Perfetto took "ns" to mean the
// timestamps are in ns (newer ones ignore it), and ts is always µs.
std::string writer::text() {
    metadata();
    for (int c = 0; c < t_.nr_cpus; ++c) cpu_track(c);
    for (std::size_t i = 0; i < t_.task_pids.size(); ++i) task_track(i);
    std::string out = "{\"traceEvents\":[\n";
    for (std::size_t i = 0; i < events_.size(); ++i) {
        out += events_[i];
        out += i + 1 < events_.size() ? ",\n" : "\n";
    }
    out += "],\n\"otherData\":" + other_data() + "}\n";
    return out;
}

}  // namespace

std::string format_perfetto_json(kernel& k) {
    const timeline t = build_timeline(k);
    return writer(k, t).text();
}

}  // namespace kp
