// CPU time accounting at every context transition, so that the buckets of a
// CPU sum exactly to elapsed time (like VIRT_CPU_ACCOUNTING_GEN with
// IRQ_TIME_ACCOUNTING; Linux's default samples at the tick instead).
// Inline: every interrupt, syscall and switch crosses here two or more times.
#pragma once

#include "kernel/kernel.h"

namespace kp {

// Charge the time since the last transition to the current bucket (and to
// the current task's utime/stime).
inline void account_flush_at(percpu& pc, nsec_t now) {
    const nsec_t delta = now - pc.acct.last;
    if (delta <= 0) return;
    pc.acct.last = now;
    pc.acct.bucket[static_cast<int>(pc.acct.cur)] += delta;
    task_struct* curr = pc.runqueue.curr;
    if (pc.acct.cur == cpu_bucket::user) curr->utime += delta;
    else if (pc.acct.cur == cpu_bucket::system) curr->stime += delta;
    else if (pc.acct.cur == cpu_bucket::softirq && curr == pc.softirq.ksoftirqd) {
        curr->stime += delta;  // ksoftirqd's softirq time is its own (irqtime_account_irq)
        pc.acct.ksoftirqd += delta;
    }
}

inline void account_flush(percpu& pc) { account_flush_at(pc, pc.k->arch().now()); }

// Switch the CPU's bucket at `now`; returns the previous one (for irq
// nesting). Always flushes: __schedule calls it right before the current
// task changes, and the time so far is the old task's.
inline cpu_bucket account_set_at(percpu& pc, cpu_bucket b, nsec_t now) {
    account_flush_at(pc, now);
    const cpu_bucket prev = pc.acct.cur;
    pc.acct.cur = b;
    return prev;
}
// Staying in the same bucket needs no flush, and so no clock read: the time
// since the last flush is charged to the same bucket later, and to the same
// task, since the current task changes only in __schedule, right after an
// account_set_at.
inline cpu_bucket account_set(percpu& pc, cpu_bucket b) {
    if (b == pc.acct.cur) return b;
    return account_set_at(pc, b, pc.k->arch().now());
}

// The bucket a task's own work lands in.
inline cpu_bucket task_bucket(const task_struct& p) {
    if (p.is_idle()) return cpu_bucket::idle;
    return p.in_kernel_mode ? cpu_bucket::system : cpu_bucket::user;
}

// Irq + softirq time of a CPU up to now (for rq->clock_task).
inline nsec_t irq_time_now(percpu& pc, nsec_t now) {
    nsec_t t = pc.acct.irq_total();
    const bool irq_time = pc.acct.cur == cpu_bucket::irq ||
                          (pc.acct.cur == cpu_bucket::softirq && pc.runqueue.curr != pc.softirq.ksoftirqd);
    if (irq_time) t += now - pc.acct.last;
    return t;
}

}  // namespace kp
