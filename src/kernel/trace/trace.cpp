#include "kernel/trace/trace.h"

#include <algorithm>
#include <array>
#include <cassert>

#include "kernel/kernel.h"
#include "kernel/preempt/preempt.h"

namespace kp {

namespace {

constexpr std::array<std::string_view, NR_TRACE_EVENTS> event_names = {
    "sched_switch",       "sched_waking",      "sched_wakeup",         "sched_wakeup_new",
    "sched_migrate_task", "sched_process_exit", "sched_stat_runtime",  "irq_handler_entry",
    "irq_handler_exit",   "softirq_raise",      "softirq_entry",        "softirq_exit",
    "ipi_send_cpu",       "preempt_disable",    "preempt_enable",       "irq_disable",
    "irq_enable",         "hrtimer_start",      "hrtimer_expire_entry", "hrtimer_expire_exit",
    "hrtimer_cancel",     "kpreempt_preempt",   "kpreempt_nr_running",
};

}  // namespace

std::string_view trace_event_name(trace_event e) { return event_names[static_cast<std::size_t>(e)]; }

trace_event trace_event_by_name(std::string_view name) {
    for (int i = 0; i < NR_TRACE_EVENTS; ++i)
        if (event_names[static_cast<std::size_t>(i)] == name) return static_cast<trace_event>(i);
    return trace_event::nr_events;
}

char task_state_char(std::int64_t raw) {
    if (raw == TRACE_STATE_PREEMPTED) return 'R';
    const auto state = static_cast<unsigned>(raw);
    constexpr unsigned TASK_REPORT = 0x7f, EXIT_DEAD = 0x10, TASK_REPORT_IDLE = 0x80;
    unsigned report = state & TASK_REPORT;
    if (state == TASK_IDLE) report = TASK_REPORT_IDLE;
    if (state & TASK_DEAD) report |= EXIT_DEAD;
    if (report == 0) return 'R';
    return "RSDTtXZPI"[32 - __builtin_clz(report)];  // fls()
}

trace_ring::trace_ring(std::size_t capacity) : slots_(std::max<std::size_t>(capacity, 1)) {}

trace_entry& trace_ring::reserve() {
    const std::uint64_t n = written_.fetch_add(1, std::memory_order_relaxed);
    return slots_[static_cast<std::size_t>(n % slots_.size())];
}

std::size_t trace_ring::in_buffer() const {
    return static_cast<std::size_t>(std::min<std::uint64_t>(written(), slots_.size()));
}

std::vector<trace_entry> trace_ring::entries() const {
    const std::uint64_t end = written();
    const std::uint64_t begin = end - in_buffer();
    std::vector<trace_entry> out;
    out.reserve(static_cast<std::size_t>(end - begin));
    for (std::uint64_t i = begin; i < end; ++i) out.push_back(slots_[static_cast<std::size_t>(i % slots_.size())]);
    return out;
}

// tracing_gen_ctx_irq_test: what the latency columns print.
void tracing_gen_ctx(const percpu& pc, trace_entry& e) {
    const std::uint32_t count = pc.preempt_count.count();
    const task_struct* t = pc.current_task;
    std::uint8_t f = 0;
    if (pc.irqs_off.load(std::memory_order_relaxed)) f |= TRACE_FLAG_IRQS_OFF;
    if (count & NMI_MASK) f |= TRACE_FLAG_NMI;
    if (count & HARDIRQ_MASK) f |= TRACE_FLAG_HARDIRQ;
    if (pc_in_serving_softirq(count)) f |= TRACE_FLAG_SOFTIRQ;
    if ((count & SOFTIRQ_MASK) >> (SOFTIRQ_SHIFT + 1)) f |= TRACE_FLAG_BH_OFF;
    if (t && t->test_tif(TIF_NEED_RESCHED)) f |= TRACE_FLAG_NEED_RESCHED;
    if (t && t->test_tif(TIF_NEED_RESCHED_LAZY)) f |= TRACE_FLAG_NEED_RESCHED_LAZY;
    if (pc.preempt_count.test_need_resched()) f |= TRACE_FLAG_PREEMPT_RESCHED;
    e.flags = f;
    e.preempt = static_cast<std::uint8_t>(std::min<std::uint32_t>(count & 0xff, 15));
}

void trace_array::record(percpu* pc, trace_event e, std::initializer_list<std::int64_t> args, nsec_t now) {
    assert(args.size() <= 5);
    trace_entry entry;
    entry.time = now;
    entry.type = e;
    if (pc) {
        entry.cpu = static_cast<std::int16_t>(pc->cpu);
        entry.pid = pc->current_task ? pc->current_task->pid : 0;
        tracing_gen_ctx(*pc, entry);
    }
    std::copy(args.begin(), args.end(), entry.arg);
    if (record_mask_ & trace_bit(e)) rings_[static_cast<std::size_t>(entry.cpu)]->reserve() = entry;
    for (trace_probe* p : probes_)
        if (pc && (p->events() & trace_bit(e))) p->on_entry(*pc, entry);
}

void trace_array::critical_timings_edge(percpu& pc, critical_timings what, std::int64_t ip) {
    for (trace_probe* p : probes_) p->on_critical_timings(pc, what, ip);
}

void trace_array::enable(kernel& k, std::uint64_t mask, std::size_t entries_per_cpu) {
    rings_.clear();
    for (int c = 0; c < k.nr_cpus(); ++c) rings_.push_back(std::make_unique<trace_ring>(entries_per_cpu));
    record_mask_ = mask & TRACE_ALL_EVENTS;
    publish(k);
}

void trace_array::disable(kernel& k) {
    record_mask_ = 0;
    publish(k);
}

void trace_array::add_probe(kernel& k, trace_probe* p) {
    probes_.push_back(p);
    publish(k);
}

void trace_array::remove_probe(kernel& k, trace_probe* p) {
    std::erase(probes_, p);
    publish(k);
}

const trace_ring* trace_array::ring(int cpu) const {
    return static_cast<std::size_t>(cpu) < rings_.size() ? rings_[static_cast<std::size_t>(cpu)].get() : nullptr;
}

void trace_array::publish(kernel& k) {
    std::uint64_t live = record_mask_;
    for (const trace_probe* p : probes_) live |= p->events();
    live_mask = live;
    for (int c = 0; c < k.nr_cpus(); ++c) {
        k.cpu(c).trace_mask = live;
        k.cpu(c).preempt_limits.set_traced(tracepoints_compiled && (live & PREEMPT_TRACE_BITS) != 0);
    }
    if ((live != 0) != holds_gate_) {
        holds_gate_ = live != 0;
        if (holds_gate_)
            static_key_slow_inc(trace_key);
        else
            static_key_slow_dec(trace_key);
    }
}

trace_array::~trace_array() {
    if (holds_gate_) static_key_slow_dec(trace_key);
}

}  // namespace kp
