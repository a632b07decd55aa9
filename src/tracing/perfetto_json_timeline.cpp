#include "tracing/perfetto_json_timeline.h"

#include <algorithm>
#include <map>
#include <optional>
#include <tuple>

#include "kernel/kernel.h"

namespace kp::perfetto {

namespace {

constexpr std::size_t NONE = static_cast<std::size_t>(-1);

int arg(const trace_entry& e, int i) { return static_cast<int>(e.arg[i]); }

// Rebuilds one CPU from its ring: the run open on it, and the irq and
// softirq spans open inside that run (a stack: they nest).
class cpu_walker {
public:
    cpu_walker(timeline& t, int cpu) : t_(t), cpu_(cpu), start_(t.cpu_start[static_cast<std::size_t>(cpu)]) {}

    void feed(const trace_entry& e, std::int64_t seq);
    void finish();

private:
    void on_switch(const trace_entry& e, std::int64_t order);
    void on_preempt(const trace_entry& e, std::int64_t order);
    void on_wakeup(const trace_entry& e, std::int64_t order);
    void ctx_entry(const trace_entry& e, bool softirq, std::int64_t order);
    void ctx_exit(const trace_entry& e, bool softirq);
    void open_run(int pid, int prio, nsec_t start, std::int64_t order, bool from_trace_start);
    void close_ctx_at(nsec_t when, bool trace_end);

    timeline& t_;
    int cpu_;
    nsec_t start_;
    std::size_t run_ = NONE;          // the open run
    std::size_t last_closed_ = NONE;  // the run the latest switch ended
    std::vector<std::size_t> open_ctx_;
    bool seen_switch_ = false;
    int first_pid_ = -1;              // current at the first kept entry
    std::int64_t partial_order_ = -4; // for spans found open at the first kept entry
};

void cpu_walker::feed(const trace_entry& e, std::int64_t seq) {
    const std::int64_t order = seq * 4;
    if (first_pid_ < 0) first_pid_ = e.pid;
    auto& depth = t_.preempt_depth[static_cast<std::size_t>(cpu_)];
    depth.push_back({e.time, e.preempt});
    // preempt_enable is written just before the outermost count drops: 0 after it.
    if (e.type == trace_event::preempt_enable) depth.push_back({e.time, 0});
    switch (e.type) {
    case trace_event::sched_switch: on_switch(e, order); break;
    case trace_event::kpreempt_preempt: on_preempt(e, order); break;
    case trace_event::sched_wakeup:
    case trace_event::sched_wakeup_new: on_wakeup(e, order); break;
    case trace_event::irq_handler_entry: ctx_entry(e, false, order); break;
    case trace_event::irq_handler_exit: ctx_exit(e, false); break;
    case trace_event::softirq_entry: ctx_entry(e, true, order); break;
    case trace_event::softirq_exit: ctx_exit(e, true); break;
    case trace_event::sched_migrate_task:
        t_.migrations.push_back({e.time, arg(e, 0), arg(e, 2), arg(e, 3)});
        break;
    default: break;
    }
}

void cpu_walker::open_run(int pid, int prio, nsec_t start, std::int64_t order, bool from_trace_start) {
    run_span r;
    r.cpu = cpu_;
    r.pid = pid;
    r.prio = prio;
    r.start = start;
    r.order = order;
    r.from_trace_start = from_trace_start;
    t_.runs.push_back(r);
    run_ = t_.runs.size() - 1;
}

// sched_switch: prev_pid prev_prio prev_state next_pid next_prio. The task
// switched out ran since the previous switch, or, at the first one kept,
// since the CPU's trace began.
void cpu_walker::on_switch(const trace_entry& e, std::int64_t order) {
    close_ctx_at(e.time, false);  // a switch inside an irq would be a kernel bug; keep the nesting sound anyway
    if (!seen_switch_) open_run(arg(e, 0), arg(e, 1), start_, ORDER_BEFORE_TRACE, true);
    seen_switch_ = true;
    run_span& prev = t_.runs[run_];
    prev.end = e.time;
    prev.end_state = e.arg[2];
    last_closed_ = run_;
    open_run(arg(e, 3), arg(e, 4), e.time, order, false);
}

// kpreempt_preempt follows its sched_switch at once: it says why the run
// that switch ended, ended.
void cpu_walker::on_preempt(const trace_entry& e, std::int64_t order) {
    t_.preempts.push_back({cpu_, e.time, order, arg(e, 0), arg(e, 1), arg(e, 2), arg(e, 3)});
    if (last_closed_ == NONE) return;
    run_span& r = t_.runs[last_closed_];
    if (r.end == e.time && r.pid == arg(e, 2)) {
        r.preempt_point = arg(e, 0);
        r.preempt_model = arg(e, 1);
    }
}

void cpu_walker::on_wakeup(const trace_entry& e, std::int64_t order) {
    wakeup_mark w;
    w.cpu = cpu_;
    w.waker_pid = e.pid;
    w.pid = arg(e, 0);
    w.prio = arg(e, 1);
    w.target_cpu = arg(e, 2);
    w.new_task = e.type == trace_event::sched_wakeup_new;
    w.time = e.time;
    w.order = order;
    t_.wakeups.push_back(w);
}

void cpu_walker::ctx_entry(const trace_entry& e, bool softirq, std::int64_t order) {
    ctx_span s;
    s.cpu = cpu_;
    s.softirq = softirq;
    s.nr = arg(e, 0);
    s.start = e.time;
    s.order = order;
    t_.ctx.push_back(s);
    open_ctx_.push_back(t_.ctx.size() - 1);
}

// An exit whose entry is not open: before the first switch it is a handler
// that began before the first kept entry (inner ones are seen first, so each
// gets an earlier order: outer spans are emitted before what they hold).
void cpu_walker::ctx_exit(const trace_entry& e, bool softirq) {
    if (!open_ctx_.empty()) {
        ctx_span& s = t_.ctx[open_ctx_.back()];
        if (s.softirq == softirq && s.nr == arg(e, 0)) {
            s.end = e.time;
            if (!softirq) s.ret = arg(e, 1);
            open_ctx_.pop_back();
            return;
        }
    }
    if (seen_switch_ || !open_ctx_.empty()) {
        ++t_.unmatched_exits;
        return;
    }
    ctx_span s;
    s.cpu = cpu_;
    s.softirq = softirq;
    s.nr = arg(e, 0);
    s.ret = softirq ? -1 : arg(e, 1);
    s.start = start_;
    s.end = e.time;
    s.order = partial_order_;
    partial_order_ -= 4;
    s.from_trace_start = true;
    t_.ctx.push_back(s);
}

void cpu_walker::close_ctx_at(nsec_t when, bool trace_end) {
    for (std::size_t i : open_ctx_) {
        t_.ctx[i].end = when;
        t_.ctx[i].to_trace_end = trace_end;
    }
    open_ctx_.clear();
}

// What is still open runs to the end of the trace. A CPU whose kept entries
// hold no switch ran one task throughout: the one current at every entry.
void cpu_walker::finish() {
    close_ctx_at(t_.end, true);
    if (!seen_switch_ && first_pid_ >= 0) open_run(first_pid_, -1, start_, ORDER_BEFORE_TRACE, true);
    if (run_ == NONE) return;
    t_.runs[run_].end = t_.end;
    t_.runs[run_].to_trace_end = true;
}

// Keep the last value at each instant, then only the changes.
std::vector<counter_sample> compress(const std::vector<counter_sample>& raw) {
    std::vector<counter_sample> at_instants;
    for (const counter_sample& s : raw) {
        if (!at_instants.empty() && at_instants.back().time == s.time) at_instants.back().value = s.value;
        else at_instants.push_back(s);
    }
    std::vector<counter_sample> out;
    for (const counter_sample& s : at_instants)
        if (out.empty() || out.back().value != s.value) out.push_back(s);
    return out;
}

// kpreempt_nr_running is written on the CPU that changed a runqueue, which
// may be another CPU's: gather each runqueue's samples from every ring, in
// time order (ties: ring, then position, which is as good as any).
void collect_nr_running(timeline& t, const std::vector<std::vector<trace_entry>>& rings) {
    using sample = std::tuple<nsec_t, int, std::size_t, std::int64_t>;
    std::vector<std::vector<sample>> per_rq(static_cast<std::size_t>(t.nr_cpus));
    for (std::size_t c = 0; c < rings.size(); ++c)
        for (std::size_t i = 0; i < rings[c].size(); ++i) {
            const trace_entry& e = rings[c][i];
            const int rq = arg(e, 0);
            if (e.type != trace_event::kpreempt_nr_running || rq < 0 || rq >= t.nr_cpus) continue;
            per_rq[static_cast<std::size_t>(rq)].emplace_back(e.time, static_cast<int>(c), i, e.arg[1]);
        }
    t.nr_running.resize(static_cast<std::size_t>(t.nr_cpus));
    for (std::size_t rq = 0; rq < per_rq.size(); ++rq) {
        std::sort(per_rq[rq].begin(), per_rq[rq].end());
        std::vector<counter_sample> raw;
        for (const sample& s : per_rq[rq]) raw.push_back({std::get<0>(s), std::get<3>(s)});
        t.nr_running[rq] = compress(raw);
    }
}

// The trace's bounds. A ring that never overran holds everything since
// tracing was enabled, so all such CPUs start when the earliest of them
// does; a ring that overran starts at its oldest kept entry.
void set_bounds(timeline& t, kernel& k, const std::vector<std::vector<trace_entry>>& rings) {
    std::optional<nsec_t> first, last;
    for (const auto& r : rings) {
        if (r.empty()) continue;
        first = first ? std::min(*first, r.front().time) : r.front().time;
        last = last ? std::max(*last, r.back().time) : r.back().time;
    }
    const nsec_t global_start = first.value_or(0);
    t.end = std::max(last.value_or(global_start), k.trace.recorded() ? k.arch().now() : global_start);
    for (std::size_t c = 0; c < rings.size(); ++c) {
        const bool overran = t.rings[c].overrun > 0 && !rings[c].empty();
        t.cpu_start.push_back(overran ? rings[c].front().time : global_start);
    }
}

bool ended_runnable(const run_span& r) {
    return r.end_state == TRACE_STATE_PREEMPTED || r.end_state == static_cast<std::int64_t>(TASK_RUNNING);
}

// One task's runs in time order, clipped so that none overlaps the one
// before: only a run found open at an overrun ring's first entry can, and
// only by its unknown start.
std::vector<task_run> task_track_runs(const timeline& t, std::vector<std::size_t> idx) {
    std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
        return std::tie(t.runs[a].start, t.runs[a].end, t.runs[a].cpu) <
               std::tie(t.runs[b].start, t.runs[b].end, t.runs[b].cpu);
    });
    std::vector<task_run> out;
    for (std::size_t i : idx) {
        nsec_t start = t.runs[i].start;
        if (!out.empty()) start = std::max(start, t.runs[out.back().run].end);
        if (start > t.runs[i].end) continue;
        out.push_back({i, start});
    }
    return out;
}

// The first wakeup of the task in [lo, hi] not already taken by a gap
// (a zero-length run puts one instant in two), from the task's wakeups in
// time order.
wakeup_mark* first_wakeup_in(std::vector<wakeup_mark*>& w, nsec_t lo, nsec_t hi) {
    auto it = std::lower_bound(w.begin(), w.end(), lo, [](const wakeup_mark* m, nsec_t v) { return m->time < v; });
    for (; it != w.end() && (*it)->time <= hi; ++it)
        if (!(*it)->flow_out) return *it;
    return nullptr;
}

wait_span woken_wait(int pid, const wakeup_mark& w, nsec_t end) {
    wait_span s;
    s.pid = pid;
    s.start = w.time;
    s.end = end;
    s.woken = true;
    s.waker_cpu = w.cpu;
    s.waker_pid = w.waker_pid;
    return s;
}

wait_span preempted_wait(const run_span& prev, nsec_t end) {
    wait_span s;
    s.pid = prev.pid;
    s.start = prev.end;
    s.end = end;
    s.preempt_point = prev.preempt_point;
    return s;
}

void add_wait(timeline& t, wait_span s) {
    if (s.end > s.start) t.waits.push_back(s);  // an empty wait shows nothing
}

// The gaps of one task: after a run that left the CPU runnable, it waits
// until the next; otherwise the first wakeup in the gap starts its wait, and
// the run that ends the wait is the run that wakeup caused (a flow). A
// wakeup that finds the task running causes nothing.
void task_waits(timeline& t, int pid, const std::vector<task_run>& runs, std::vector<wakeup_mark*>& wakes) {
    const run_span* prev = nullptr;
    for (const task_run& tr : runs) {
        run_span& r = t.runs[tr.run];
        if (prev && ended_runnable(*prev)) {
            add_wait(t, preempted_wait(*prev, tr.start));
        } else if (wakeup_mark* w = first_wakeup_in(wakes, prev ? prev->end : 0, tr.start)) {
            w->flow_out = r.flow_in = ++t.nr_flows;
            add_wait(t, woken_wait(pid, *w, tr.start));
        }
        prev = &r;
    }
    wait_span tail;
    if (prev && ended_runnable(*prev)) tail = preempted_wait(*prev, t.end);
    else if (wakeup_mark* w = first_wakeup_in(wakes, prev ? prev->end : 0, t.end)) tail = woken_wait(pid, *w, t.end);
    else return;
    tail.to_trace_end = true;
    add_wait(t, tail);
}

// Every task seen running, woken or migrated gets a track of its own.
void build_tasks(timeline& t) {
    std::map<int, std::vector<std::size_t>> runs_of;
    std::map<int, std::vector<wakeup_mark*>> wakes_of;
    for (std::size_t i = 0; i < t.runs.size(); ++i)
        if (t.runs[i].pid > 0) runs_of[t.runs[i].pid].push_back(i);
    for (wakeup_mark& w : t.wakeups)
        if (w.pid > 0) wakes_of[w.pid].push_back(&w);
    std::map<int, bool> seen;
    for (const auto& [pid, _] : runs_of) seen[pid] = true;
    for (const auto& [pid, _] : wakes_of) seen[pid] = true;
    for (const migrate_mark& m : t.migrations)
        if (m.pid > 0) seen[m.pid] = true;
    for (const auto& [pid, _] : seen) {
        std::vector<wakeup_mark*>& wakes = wakes_of[pid];
        std::stable_sort(wakes.begin(), wakes.end(), [](const wakeup_mark* a, const wakeup_mark* b) {
            return std::tie(a->time, a->cpu, a->order) < std::tie(b->time, b->cpu, b->order);
        });
        t.task_pids.push_back(pid);
        t.task_runs.push_back(task_track_runs(t, runs_of[pid]));
        task_waits(t, pid, t.task_runs.back(), wakes);
    }
}

// Flow ids in the order of the wakeups that start them.
void number_flows(timeline& t) {
    std::vector<wakeup_mark*> starts;
    for (wakeup_mark& w : t.wakeups)
        if (w.flow_out) starts.push_back(&w);
    std::stable_sort(starts.begin(), starts.end(), [](const wakeup_mark* a, const wakeup_mark* b) {
        return std::tie(a->time, a->cpu, a->order) < std::tie(b->time, b->cpu, b->order);
    });
    std::vector<int> renumbered(static_cast<std::size_t>(t.nr_flows) + 1, 0);
    for (std::size_t i = 0; i < starts.size(); ++i) {
        renumbered[static_cast<std::size_t>(starts[i]->flow_out)] = static_cast<int>(i) + 1;
        starts[i]->flow_out = static_cast<int>(i) + 1;
    }
    for (run_span& r : t.runs) r.flow_in = renumbered[static_cast<std::size_t>(r.flow_in)];
}

}  // namespace

timeline build_timeline(kernel& k) {
    timeline t;
    t.nr_cpus = k.nr_cpus();
    std::vector<std::vector<trace_entry>> rings;
    for (int c = 0; c < t.nr_cpus; ++c) {
        const trace_ring* r = k.trace.ring(c);
        rings.push_back(r ? r->entries() : std::vector<trace_entry>{});
        t.rings.push_back(r ? ring_stats{r->written(), r->overrun()} : ring_stats{});
    }
    set_bounds(t, k, rings);
    t.preempt_depth.resize(static_cast<std::size_t>(t.nr_cpus));
    for (int c = 0; c < t.nr_cpus; ++c) {
        cpu_walker w(t, c);
        const auto& ring = rings[static_cast<std::size_t>(c)];
        for (std::size_t i = 0; i < ring.size(); ++i) w.feed(ring[i], static_cast<std::int64_t>(i));
        w.finish();
        t.preempt_depth[static_cast<std::size_t>(c)] = compress(t.preempt_depth[static_cast<std::size_t>(c)]);
    }
    collect_nr_running(t, rings);
    build_tasks(t);
    number_flows(t);
    return t;
}

}  // namespace kp::perfetto
