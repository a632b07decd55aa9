// A small, Linux-shaped load balancer: placement at wakeup lives in
// select_task_rq (wakeup.cpp); here are the idle pull (sched_balance_newidle)
// and the periodic pull from the busiest CPU (sched_balance_rq), one flat
// domain spanning every CPU.
#include "kernel/preempt/preempt.h"
#include "kernel/sched/core.h"
#include "kernel/sched/rq_lock.h"

namespace kp {

namespace {

constexpr int balance_interval_ticks = 4;

// A queued task on `src` that may move to `dst_cpu` (not running there).
task_struct* detachable_task(rq& src, int dst_cpu) {
    auto movable = [&](task_struct* p) {
        return p != src.curr && !p->migration_disabled && p->cpus_mask.test(static_cast<std::size_t>(dst_cpu));
    };
    for (std::size_t prio = src.rt.bitmap._Find_first(); prio < MAX_RT_PRIO; prio = src.rt.bitmap._Find_next(prio))
        for (task_struct* p : src.rt.queue[prio])
            if (movable(p)) return p;
    // The fair queue is in deadline order; take the earliest queued.
    task_struct* first = nullptr;
    for (task_struct* p = src.cfs.first; p; p = p->se.queue_next)
        if (movable(p) && (!first || p->se.queue_seq < first->se.queue_seq)) first = p;
    return first;
}

rq* find_busiest_rq(kernel& k, const rq& dst, unsigned min_imbalance) {
    rq* busiest = nullptr;
    for (int cpu = 0; cpu < k.nr_cpus(); ++cpu) {
        rq& r = cpu_rq(k, cpu);
        if (&r == &dst) continue;
        if (r.nr_running >= dst.nr_running + min_imbalance && (!busiest || r.nr_running > busiest->nr_running))
            busiest = &r;
    }
    return busiest;
}

// Move one task from src to dst; both locks held.
void move_task(rq& src, rq& dst, task_struct& p) {
    update_rq_clock(src);
    update_rq_clock(dst);
    deactivate_task(src, p, DEQUEUE_MIGRATING);
    set_task_cpu(p, dst.cpu);
    activate_task(dst, p, ENQUEUE_MIGRATED);
    wakeup_preempt(dst, p, 0);
}

}  // namespace

// Called from __schedule with dst locked and irqs off, when dst has nothing
// to run. Drops and retakes dst's lock in lock order, like Linux.
task_struct* sched_balance_newidle(rq& dst) {
    kernel& k = *dst.k;
    if (k.nr_cpus() == 1) return nullptr;
    rq* src = find_busiest_rq(k, dst, 2);
    if (!src) return nullptr;
    raw_spin_unlock_no_resched(dst.lock);
    double_rq_lock(dst, *src);
    task_struct* p = nullptr;
    if (dst.nr_running == 0 && src->nr_running >= 2) {
        p = detachable_task(*src, dst.cpu);
        if (p) move_task(*src, dst, *p);
    }
    raw_spin_unlock_no_resched(src->lock);
    if (dst.nr_running == 0) return nullptr;
    // Whatever is queued now (the pulled task, or a wakeup that raced in).
    for (const sched_class* c : {&rt_sched_class, &fair_sched_class})
        if (task_struct* n = c->pick_task(dst)) return n;
    return p;
}

void sched_balance_tick(rq& dst) {
    kernel& k = *dst.k;
    if (k.nr_cpus() == 1) return;
    if ((k.jiffies.load(std::memory_order_relaxed) + static_cast<unsigned>(dst.cpu)) % balance_interval_ticks)
        return;
    irq_guard irqs_off;
    rq* src = find_busiest_rq(k, dst, 2);
    if (!src) return;
    double_rq_lock(dst, *src);
    if (src->nr_running >= dst.nr_running + 2) {
        if (task_struct* p = detachable_task(*src, dst.cpu)) move_task(*src, dst, *p);
    }
    double_rq_unlock(dst, *src);
}

}  // namespace kp
