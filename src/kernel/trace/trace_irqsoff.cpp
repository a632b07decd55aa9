#include "kernel/trace/trace_irqsoff.h"

#include "kernel/kernel.h"
#include "kernel/preempt/preempt.h"

namespace kp {

irqsoff_tracer::irqsoff_tracer(unsigned trace_type, std::uint64_t window_events, std::size_t window_capacity)
    : latency_tracer(trace_type == irqs_off      ? "irqsoff"
                     : trace_type == preempt_off ? "preemptoff"
                                                 : "preemptirqsoff",
                     window_events, window_capacity),
      trace_type_(trace_type) {}

std::uint64_t irqsoff_tracer::needed_events() const {
    std::uint64_t mask = 0;
    if (trace_type_ & irqs_off) mask |= IRQ_TRACE_BITS;
    if (trace_type_ & preempt_off) mask |= PREEMPT_TRACE_BITS;
    // The union needs both edges of both to tell whether the other is off.
    return mask;
}

void irqsoff_tracer::reset(int nr_cpus) {
    cpus_.clear();
    cpus_.reserve(static_cast<std::size_t>(nr_cpus));
    for (int c = 0; c < nr_cpus; ++c) cpus_.emplace_back(window_capacity());
}

// preempt_trace(preempt_count()): the whole count, so inside a hardirq or
// a bh-disabled section preemption counts as disabled.
bool irqsoff_tracer::preempt_trace(const percpu& pc) const {
    return (trace_type_ & preempt_off) && pc.preempt_count.count() != 0;
}

bool irqsoff_tracer::irq_trace(const percpu& pc) const {
    return (trace_type_ & irqs_off) && pc.irqs_off.load(std::memory_order_relaxed);
}

// tracer_hardirqs_off/on, tracer_preempt_off/on. The tracepoints fire with
// the state they announce already true (irqs masked, count raised) and the
// state they end still true (irqs masked, count not yet lowered).
void irqsoff_tracer::on_entry(percpu& pc, const trace_entry& e) {
    const latency_entry x{.kind = latency_entry_kind::event, .e = e};
    const std::int64_t ip = e.arg[1] ? e.arg[1] : e.arg[0];  // parent_ip ?: ip
    switch (e.type) {
    case trace_event::irq_disable:
        if (!preempt_trace(pc) && irq_trace(pc)) return start_critical_timing(pc, x, ip);
        break;
    case trace_event::irq_enable:
        if (!preempt_trace(pc) && irq_trace(pc)) return stop_critical_timing(pc, x, ip);
        break;
    case trace_event::preempt_disable:
        if (preempt_trace(pc) && !irq_trace(pc)) return start_critical_timing(pc, x, ip);
        break;
    case trace_event::preempt_enable:
        if (preempt_trace(pc) && !irq_trace(pc)) return stop_critical_timing(pc, x, ip);
        break;
    default: break;
    }
    cpu_state& c = cpus_[static_cast<std::size_t>(pc.cpu)];
    if (c.tracing && keeps(e)) c.window.add(x);
}

// The idle loop's wait: Linux's start/stop_critical_timings, which trace
// a function entry (here the idle loop's address) where they act.
void irqsoff_tracer::on_critical_timings(percpu& pc, critical_timings what, std::int64_t ip) {
    if (!preempt_trace(pc) && !irq_trace(pc)) return;
    latency_entry x{.kind = latency_entry_kind::function};
    x.e.time = pc.k->arch().now();
    x.e.cpu = static_cast<std::int16_t>(pc.cpu);
    x.e.pid = pc.current_task ? pc.current_task->pid : 0;
    tracing_gen_ctx(pc, x.e);
    x.e.arg[0] = ip;
    if (what == critical_timings::stop) stop_critical_timing(pc, x, ip);
    else start_critical_timing(pc, x, ip);
}

void irqsoff_tracer::start_critical_timing(percpu& pc, const latency_entry& x, std::int64_t ip) {
    cpu_state& c = cpus_[static_cast<std::size_t>(pc.cpu)];
    if (!c.tracing) {
        c.tracing = true;
        c.start = x.e.time;
        c.critical_start = ip;
        c.window.clear();
    }
    if (x.kind != latency_entry_kind::event || keeps(x.e)) c.window.add(x);
}

// stop_critical_timing + check_critical_timing: the window ends with the
// entry that closed it; `current` is the task charged with it.
void irqsoff_tracer::stop_critical_timing(percpu& pc, const latency_entry& x, std::int64_t ip) {
    cpu_state& c = cpus_[static_cast<std::size_t>(pc.cpu)];
    if (!c.tracing) return;
    c.tracing = false;
    if (x.kind != latency_entry_kind::event || keeps(x.e)) c.window.add(x);
    const nsec_t delta = x.e.time - c.start;
    if (!report_latency(delta)) return;
    latency_snapshot s;
    s.latency = delta;
    s.time_start = c.start;
    s.cpu = pc.cpu;
    s.critical_start = c.critical_start;
    s.critical_end = ip;
    s.model = pc.k->dyn.mode;
    if (pc.current_task) snapshot_task(s, *pc.current_task);
    s.entries = c.window.entries();
    s.written = c.window.written();
    update_max_tr(std::move(s));
}

namespace {

void critical_timings_edge(critical_timings what, const void* ip) {
    if constexpr (!tracepoints_compiled) return;
    percpu* pc = this_cpu_ptr;
    if (!pc || !(pc->trace_mask & (PREEMPT_TRACE_BITS | IRQ_TRACE_BITS))) return;
    pc->k->trace.critical_timings_edge(*pc, what, reinterpret_cast<std::intptr_t>(ip));
}

}  // namespace

// Out of line, so that the return address is the idle loop's.
void stop_critical_timings() { critical_timings_edge(critical_timings::stop, __builtin_return_address(0)); }
void start_critical_timings() { critical_timings_edge(critical_timings::start, __builtin_return_address(0)); }

}  // namespace kp
