#include "kernel/trace/trace_sched_wakeup.h"

#include <algorithm>
#include <iterator>

#include "kernel/kernel.h"

namespace kp {

namespace {

// The context columns of a tracer entry: those of the event it stands for.
latency_entry own_entry(latency_entry_kind kind, const trace_entry& e, const ctxwake_fields& cw) {
    latency_entry x{.kind = kind, .e = e, .cw = cw};
    std::fill(std::begin(x.e.arg), std::end(x.e.arg), 0);
    return x;
}

}  // namespace

wakeup_tracer::wakeup_tracer(wakees which, std::uint64_t window_events, std::size_t window_capacity)
    : latency_tracer(which == wakees::rt_only ? "wakeup_rt" : "wakeup", window_events, window_capacity),
      which_(which),
      window_(window_capacity) {}

std::uint64_t wakeup_tracer::needed_events() const {
    return trace_bit(trace_event::sched_wakeup) | trace_bit(trace_event::sched_wakeup_new) |
           trace_bit(trace_event::sched_switch) | trace_bit(trace_event::sched_migrate_task);
}

void wakeup_tracer::reset(int) {
    const std::lock_guard<std::mutex> guard(wakeup_lock_);
    wakeup_reset();
    window_.clear();
}

void wakeup_tracer::wakeup_reset() {
    wakeup_pid_ = 0;
    wakeup_cpu_ = -1;
    wakeup_current_cpu_ = -1;
    wakeup_prio_ = -1;
}

void wakeup_tracer::on_entry(percpu& pc, const trace_entry& e) {
    const std::lock_guard<std::mutex> guard(wakeup_lock_);
    switch (e.type) {
    case trace_event::sched_wakeup:
    case trace_event::sched_wakeup_new:
        if (probe_wakeup(pc, e)) return;
        break;
    case trace_event::sched_switch:
        if (wakeup_pid_ && e.arg[3] == wakeup_pid_) return probe_wakeup_sched_switch(pc, e);
        break;
    case trace_event::sched_migrate_task:  // probe_wakeup_migrate_task
        if (wakeup_pid_ && e.arg[0] == wakeup_pid_) wakeup_current_cpu_ = static_cast<int>(e.arg[3]);
        break;
    default: break;
    }
    if (wakeup_pid_ && e.cpu == wakeup_current_cpu_ && keeps(e))
        window_.add({.kind = latency_entry_kind::event, .e = e});
}

// A wakee worth tracking starts a new window (and its wakeup event is
// replaced by the tracer's own entry). A lower prio is a higher priority;
// the waker is whatever runs here (the interrupted task, when woken from an
// interrupt).
bool wakeup_tracer::probe_wakeup(percpu& pc, const trace_entry& e) {
    const int pid = static_cast<int>(e.arg[0]), prio = static_cast<int>(e.arg[1]);
    const task_struct* p = kern()->find_task(pid);
    const task_struct* curr = pc.current_task;
    if (!p || !curr) return false;
    if (which_ == wakees::rt_only && prio >= MAX_RT_PRIO) return false;
    if ((wakeup_prio_ >= 0 && prio >= wakeup_prio_) || prio >= curr->prio) return false;
    wakeup_reset();
    wakeup_pid_ = pid;
    wakeup_cpu_ = wakeup_current_cpu_ = p->cpu;
    wakeup_prio_ = prio;
    start_ = e.time;
    window_.clear();
    const ctxwake_fields cw{.prev_pid = curr->pid,
                            .prev_prio = curr->prio,
                            .prev_state = task_state_char(curr->state()),
                            .next_cpu = p->cpu,
                            .next_pid = pid,
                            .next_prio = prio,
                            .next_state = task_state_char(p->state())};
    window_.add(own_entry(latency_entry_kind::wakeup, e, cw));
    return true;
}

// The wakee is switched in: the window ends here, on whatever CPU it runs.
void wakeup_tracer::probe_wakeup_sched_switch(percpu& pc, const trace_entry& e) {
    const ctxwake_fields cw{.prev_pid = static_cast<int>(e.arg[0]),
                            .prev_prio = static_cast<int>(e.arg[1]),
                            .prev_state = task_state_char(e.arg[2]),
                            .next_cpu = pc.cpu,
                            .next_pid = static_cast<int>(e.arg[3]),
                            .next_prio = static_cast<int>(e.arg[4]),
                            .next_state = 'R'};
    window_.add(own_entry(latency_entry_kind::context_switch, e, cw));
    const nsec_t delta = e.time - start_;
    if (report_latency(delta)) {
        latency_snapshot s;
        s.latency = delta;
        s.time_start = start_;
        s.cpu = wakeup_cpu_;
        s.model = pc.k->dyn.mode;
        if (const task_struct* t = kern()->find_task(wakeup_pid_)) snapshot_task(s, *t);
        s.entries = window_.entries();
        s.written = window_.written();
        update_max_tr(std::move(s));
    }
    wakeup_reset();
}

}  // namespace kp
