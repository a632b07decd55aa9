#include "kernel/preempt/preempt.h"

#include "kernel/debug/debug.h"
#include "kernel/sched/core.h"

namespace kp {

// preempt_count_add/sub with CONFIG_DEBUG_PREEMPT's checks: an underflow is
// reported and not applied, as Linux does.
void preempt_count_add(std::uint32_t val) {
    preempt_word& w = preempt_word_here();
    w.add(val);
    if ((w.count() & PREEMPT_MASK) >= PREEMPT_MASK - 10)
        kernel_warn("kernel/sched/core.c preempt_count_add",
                    "DEBUG_LOCKS_WARN_ON((preempt_count() & PREEMPT_MASK) >= PREEMPT_MASK - 10)");
}

namespace {
bool sub_would_underflow(std::uint32_t val) {
    const std::uint32_t pc = preempt_count();
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

void preempt_count_sub(std::uint32_t val) {
    if (sub_would_underflow(val)) return;
    preempt_word_here().sub(val);
}

void preempt_enable() {
    if (sub_would_underflow(PREEMPT_OFFSET)) return;
    if (preempt_word_here().sub_and_test(PREEMPT_OFFSET)) preempt_schedule();
}

void local_irq_enable() {
    percpu& pc = this_cpu();
    if (!pc.irqs_off.load(std::memory_order_relaxed)) return;
    pc.irqs_off.store(false, std::memory_order_relaxed);
    pc.k->arch().replay_masked_irqs();
}

}  // namespace kp
