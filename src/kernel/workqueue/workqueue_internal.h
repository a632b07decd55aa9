// Between the workqueue's two files (as kernel/workqueue_internal.h): the
// pool lock and the PENDING bit.
#pragma once

#include "kernel/kernel.h"
#include "kernel/sched/rq_lock.h"
#include "kernel/workqueue/workqueue.h"

namespace kp {

// pool->lock, interrupts off (raw_spin_lock_irqsave): queueing comes from
// any context, hardirqs included, and they queue on this CPU's pool.
struct pool_lock_ops {
    worker_pool& pool;
    irqflags_t flags = 0;
    void acquire() {
        flags = local_irq_save();
        raw_spin_lock(pool.lock);
    }
    void release() {
        pool.lock.unlock(this_kernel().arch());
        local_irq_restore(flags);
        preempt_enable();
    }
};
using pool_guard = scoped<pool_lock_ops>;

inline bool test_and_set_pending(work_struct& work) {
    return work.data.fetch_or(1ul << WORK_STRUCT_PENDING_BIT) & (1ul << WORK_STRUCT_PENDING_BIT);
}
inline void clear_pending(work_struct& work) { work.data.fetch_and(~(1ul << WORK_STRUCT_PENDING_BIT)); }

}  // namespace kp
