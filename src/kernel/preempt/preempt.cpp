#include "kernel/preempt/preempt.h"

#include "kernel/debug/debug.h"
#include "kernel/sched/core.h"
#include "kernel/trace/tracepoint.h"

namespace kp {

// preempt_latency_start / preempt_latency_stop: only the transition of the
// whole count from or to 0 (after an add, the count is exactly val; before
// a sub, it is). caller=%pS is the code address; there is no parent.
void trace_preempt_toggle(trace_event e, std::uint32_t val, const void* caller) {
    if (preempt_count() == val) trace_point(e, reinterpret_cast<std::intptr_t>(caller), 0);
}

// trace_hardirqs_on: recorded while still masked, as Linux does.
void trace_irq_enable(const void* caller) {
    trace_point(trace_event::irq_enable, reinterpret_cast<std::intptr_t>(caller), 0);
}

// trace_hardirqs_off: recorded once masked, and only for a real change.
void trace_irq_disable(percpu& pc, const void* caller) {
    const bool was_off = pc.irqs_off.load(std::memory_order_relaxed);
    pc.irqs_off.store(true, std::memory_order_relaxed);
    if (!was_off) trace_point(trace_event::irq_disable, reinterpret_cast<std::intptr_t>(caller), 0);
}

namespace {

void preempt_count_add_overflow_warn() {
    kernel_warn("kernel/sched/core.c preempt_count_add",
                "DEBUG_LOCKS_WARN_ON((preempt_count() & PREEMPT_MASK) >= PREEMPT_MASK - 10)");
}

// Whether a sub of val from pc underflows; if so, the report of the first
// check that fails.
bool preempt_count_sub_underflow_warn(std::uint32_t val, std::uint32_t pc) {
    if (val > pc) {
        kernel_warn("kernel/sched/core.c preempt_count_sub", "DEBUG_LOCKS_WARN_ON(val > preempt_count())");
        return true;
    }
    if (val < PREEMPT_MASK && !(pc & PREEMPT_MASK)) {
        kernel_warn("kernel/sched/core.c preempt_count_sub",
                    "DEBUG_LOCKS_WARN_ON((val < PREEMPT_MASK) && !(preempt_count() & PREEMPT_MASK))");
        return true;
    }
    return false;
}

}  // namespace

void preempt_count_add_slow(std::uint32_t val, const void* caller) {
    if ((preempt_count() & PREEMPT_MASK) >= PREEMPT_MASK - 10) preempt_count_add_overflow_warn();
    if (tracepoints_compiled && trace_gate_open()) trace_preempt_toggle(trace_event::preempt_disable, val, caller);
}

bool preempt_count_sub_slow(std::uint32_t val, std::uint32_t pc, const void* caller) {
    if (preempt_count_sub_underflow_warn(val, pc)) return true;
    if (tracepoints_compiled && trace_gate_open()) trace_preempt_toggle(trace_event::preempt_enable, val, caller);
    return false;
}

void local_irq_replay() { this_cpu().k->arch().replay_masked_irqs(); }

}  // namespace kp
