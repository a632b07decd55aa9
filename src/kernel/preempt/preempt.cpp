#include "kernel/preempt/preempt.h"

#include "kernel/debug/debug.h"
#include "kernel/sched/core.h"

namespace kp {

void preempt_count_add_overflow_warn() {
    kernel_warn("kernel/sched/core.c preempt_count_add",
                "DEBUG_LOCKS_WARN_ON((preempt_count() & PREEMPT_MASK) >= PREEMPT_MASK - 10)");
}

// Called only when one of the two checks failed: report the first that did.
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

void local_irq_replay() { this_cpu().k->arch().replay_masked_irqs(); }

}  // namespace kp
