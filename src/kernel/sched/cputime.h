// CPU time accounting at every context transition, so that the buckets of a
// CPU sum exactly to elapsed time (like VIRT_CPU_ACCOUNTING_GEN with
// IRQ_TIME_ACCOUNTING; Linux's default samples at the tick instead).
#pragma once

#include "kernel/kernel.h"

namespace kp {

// Charge the time since the last transition to the current bucket (and to
// the current task's utime/stime).
void account_flush(percpu& pc);
// Switch the CPU's bucket; returns the previous one (for irq nesting).
cpu_bucket account_set(percpu& pc, cpu_bucket b);
// The bucket a task's own work lands in.
inline cpu_bucket task_bucket(const task_struct& p) {
    if (p.is_idle()) return cpu_bucket::idle;
    return p.in_kernel_mode ? cpu_bucket::system : cpu_bucket::user;
}
// Irq + softirq time of a CPU up to now (for rq->clock_task).
nsec_t irq_time_now(percpu& pc, nsec_t now);

}  // namespace kp
