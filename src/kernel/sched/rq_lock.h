// Runqueue locking: raw spinlocks that disable preemption (count +1), with
// the irq-disabling forms. See sched.h for the lock order.
#pragma once

#include "kernel/preempt/preempt.h"

namespace kp {

inline void raw_spin_lock(arch_spinlock& l) {
    preempt_disable();
    l.lock(this_kernel().arch());
}
inline void raw_spin_unlock(arch_spinlock& l) {
    l.unlock(this_kernel().arch());
    preempt_enable();
}
// Unlock without a preemption check, for the scheduler's own paths.
inline void raw_spin_unlock_no_resched(arch_spinlock& l) {
    l.unlock(this_kernel().arch());
    preempt_enable_no_resched();
}

struct rq_lock_irqsave_ops {
    rq& r;
    irqflags_t flags = 0;
    void acquire() {
        flags = local_irq_save();
        raw_spin_lock(r.lock);
    }
    void release() {
        // raw_spin_unlock_irqrestore: unlock, restore irqs, then the
        // preempt_enable that may preempt.
        r.lock.unlock(this_kernel().arch());
        local_irq_restore(flags);
        preempt_enable();
    }
};
using rq_guard = scoped<rq_lock_irqsave_ops>;

// __task_rq_lock: lock the runqueue p is on and return it. p's CPU can
// change until that lock is held (a migration holds both runqueues' locks),
// so it is checked again under the lock, and the lock retaken if p moved.
// Irqs must be off.
rq& __task_rq_lock(task_struct& p);

// double_rq_lock: both locks, lower CPU number first. Irqs must be off.
void double_rq_lock(rq& a, rq& b);
void double_rq_unlock(rq& a, rq& b);

void update_rq_clock(rq& rq);

}  // namespace kp
