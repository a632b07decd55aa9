// preempt_disable / preempt_enable and friends, local interrupt masking, and
// the context predicates, on the calling CPU (include/linux/preempt.h,
// include/linux/irqflags.h).
#pragma once

#include <cstdint>

#include "kernel/kernel.h"

namespace kp {

void preempt_schedule();

// The preemptirq tracepoints (CONFIG_TRACE_PREEMPT_TOGGLE, TRACE_IRQFLAGS):
// preempt_disable/enable on the outermost transition of the whole count,
// irq_disable/enable on a real change. Out of line: the preempt ones behind
// DEBUG_PREEMPT's checks (preempt_check_limits), the irq ones behind the
// static key; the functions test the CPU's live trace mask.
inline constexpr std::uint64_t PREEMPT_TRACE_BITS =
    trace_bit(trace_event::preempt_disable) | trace_bit(trace_event::preempt_enable);
inline constexpr std::uint64_t IRQ_TRACE_BITS = trace_bit(trace_event::irq_disable) | trace_bit(trace_event::irq_enable);
[[gnu::cold]] void trace_preempt_toggle(trace_event e, std::uint32_t val, const void* caller);
[[gnu::cold]] void trace_irq_enable(const void* caller);
[[gnu::cold]] void trace_irq_disable(percpu& pc, const void* caller);  // also masks

inline preempt_word& preempt_word_here() { return this_cpu().preempt_count; }
inline std::uint32_t preempt_count() { return preempt_word_here().count(); }

// preempt_count_add/sub with CONFIG_DEBUG_PREEMPT's checks: an underflow is
// reported and not applied, as Linux does. The checks are inline (they run
// at every lock and unlock); what fails them is out of line: the reports,
// and the preempt tracer, which makes them fail while it is live.
[[gnu::cold]] void preempt_count_add_slow(std::uint32_t val, const void* caller);
// True: an underflow, reported; the sub must not be applied.
[[gnu::cold]] bool preempt_count_sub_slow(std::uint32_t val, std::uint32_t pc, const void* caller);
// Compiled out, the tracer leaves Linux's constant limits.
inline const preempt_check_limits& preempt_limits(const percpu& pc) {
    static constexpr preempt_check_limits untraced;
    return tracepoints_compiled ? pc.preempt_limits : untraced;
}
inline void preempt_count_add(std::uint32_t val) {
    percpu& pc = this_cpu();
    pc.preempt_count.add(val);
    if (static_cast<std::uint8_t>(pc.preempt_count.count()) >= preempt_limits(pc).add_warn_at) [[unlikely]]
        preempt_count_add_slow(val, __builtin_return_address(0));
}
// The checks before a sub; true if it must not be applied. A sub of a
// softirq or bigger offset has no PREEMPT-field check to hook: the static
// key gates its trace.
inline bool preempt_count_sub_check(std::uint32_t val) {
    const percpu& pc = this_cpu();
    const std::uint32_t count = pc.preempt_count.count();
    const bool hook = val < PREEMPT_MASK ? static_cast<std::uint8_t>(count) <= preempt_limits(pc).sub_floor
                                         : tracepoints_compiled && trace_gate_open();
    if (val > count || hook) [[unlikely]]
        return preempt_count_sub_slow(val, count, __builtin_return_address(0));
    return false;
}
inline void preempt_count_sub(std::uint32_t val) {
    if (preempt_count_sub_check(val)) return;
    preempt_word_here().sub(val);
}

inline void preempt_disable() { preempt_count_add(PREEMPT_OFFSET); }
// Outermost enable with a folded reschedule: the raw word hits exactly 0.
inline void preempt_enable() {
    if (preempt_count_sub_check(PREEMPT_OFFSET)) return;
    if (preempt_word_here().sub_and_test(PREEMPT_OFFSET)) [[unlikely]]
        preempt_schedule();
}
inline void preempt_enable_no_resched() { preempt_count_sub(PREEMPT_OFFSET); }
inline void sched_preempt_enable_no_resched() { preempt_count_sub(PREEMPT_OFFSET); }
inline void preempt_check_resched() {
    if (preempt_word_here().should_resched(0)) preempt_schedule();
}

// Local interrupt masking. Enabling replays what arrived while masked.
inline bool irqs_disabled() { return this_cpu().irqs_off.load(std::memory_order_relaxed); }
inline void local_irq_disable() {
    percpu& pc = this_cpu();
    if (tracepoints_compiled && trace_gate_open()) [[unlikely]]
        return trace_irq_disable(pc, __builtin_return_address(0));
    pc.irqs_off.store(true, std::memory_order_relaxed);
}
void local_irq_replay();  // what arrived while masked
inline void local_irq_enable() {
    percpu& pc = this_cpu();
    if (!pc.irqs_off.load(std::memory_order_relaxed)) return;
    if (tracepoints_compiled && trace_gate_open()) [[unlikely]]
        trace_irq_enable(__builtin_return_address(0));
    pc.irqs_off.store(false, std::memory_order_relaxed);
    local_irq_replay();
}
using irqflags_t = unsigned long;
inline irqflags_t local_irq_save() {
    const irqflags_t flags = irqs_disabled() ? 1 : 0;
    local_irq_disable();
    return flags;
}
inline void local_irq_restore(irqflags_t flags) {
    if (!flags) local_irq_enable();
}

inline bool in_nmi() { return pc_in_nmi(preempt_count()); }
inline bool in_hardirq() { return pc_in_hardirq(preempt_count()); }
inline bool in_serving_softirq() { return pc_in_serving_softirq(preempt_count()); }
inline bool in_softirq() { return pc_in_softirq(preempt_count()); }
inline bool in_interrupt() { return pc_in_interrupt(preempt_count()); }
inline bool in_task() { return pc_in_task(preempt_count()); }
inline bool in_atomic() { return pc_in_atomic(preempt_count()); }
inline bool preemptible() { return preempt_count() == 0 && !irqs_disabled(); }

// need_resched(): the current task's TIF_NEED_RESCHED (not the lazy bit).
inline bool need_resched() { return current().test_tif(TIF_NEED_RESCHED); }

// One RAII guard for every disable/enable pair: Ops has acquire() and
// release(); release() may be called early, once, and the destructor then
// does nothing.
template <class Ops>
class [[nodiscard]] scoped {
public:
    template <class... A>
    explicit scoped(A&&... a) : ops_{static_cast<A&&>(a)...} {
        ops_.acquire();
    }
    ~scoped() { release(); }
    scoped(const scoped&) = delete;
    scoped& operator=(const scoped&) = delete;
    void release() {
        if (held_) {
            held_ = false;
            ops_.release();
        }
    }

private:
    Ops ops_;
    bool held_ = true;
};

struct preempt_disable_ops {
    void acquire() { preempt_disable(); }
    void release() { preempt_enable(); }
};
struct irqsave_ops {
    irqflags_t flags = 0;
    void acquire() { flags = local_irq_save(); }
    void release() { local_irq_restore(flags); }
};
using preempt_guard = scoped<preempt_disable_ops>;
using irq_guard = scoped<irqsave_ops>;

}  // namespace kp
