// Runqueue bookkeeping shared by every class: clock, enqueue/dequeue, the
// two-runqueue lock.
#include <cassert>

#include "kernel/sched/core.h"
#include "kernel/sched/cputime.h"
#include "kernel/sched/rq_lock.h"

namespace kp {

void arch_spinlock::lock(arch_machine& arch) {
    while (!try_lock()) {
        while (is_locked()) arch.cpu_wait_event();
    }
}

void arch_spinlock::unlock(arch_machine& arch) {
    locked_.store(false, std::memory_order_release);
    arch.cpu_send_event();
}

void update_rq_clock(rq& rq) {
    percpu& pc = rq_percpu(rq);
    const nsec_t now = rq.k->arch().now();
    if (now > rq.clock) rq.clock = now;
    // Tasks are not charged for interrupts (IRQ_TIME_ACCOUNTING).
    const nsec_t task_clock = rq.clock - irq_time_now(pc, rq.clock);
    if (task_clock > rq.clock_task) rq.clock_task = task_clock;
}

void double_rq_lock(rq& a, rq& b) {
    assert(irqs_disabled());
    if (&a == &b) {
        raw_spin_lock(a.lock);
        return;
    }
    rq& first = a.cpu < b.cpu ? a : b;
    rq& second = a.cpu < b.cpu ? b : a;
    raw_spin_lock(first.lock);
    raw_spin_lock(second.lock);
}

void double_rq_unlock(rq& a, rq& b) {
    if (&a != &b) raw_spin_unlock_no_resched(b.lock);
    raw_spin_unlock_no_resched(a.lock);
}

void activate_task(rq& rq, task_struct& p, int flags) {
    p.sched_class->enqueue_task(rq, p, flags);
    p.on_rq = 1;
    ++rq.nr_running;
}

void deactivate_task(rq& rq, task_struct& p, int flags) {
    assert(p.on_rq);
    p.on_rq = 0;
    p.sched_class->dequeue_task(rq, p, flags);
    --rq.nr_running;
}

void set_task_cpu(task_struct& p, int cpu) {
    if (p.cpu != cpu && p.k->observer) p.k->observer->on_migrate(p.k->arch().now(), p.pid, p.cpu, cpu);
    p.cpu = cpu;
}

void wakeup_preempt(rq& rq, task_struct& p, int wake_flags) {
    task_struct& curr = *rq.curr;
    if (p.sched_class == curr.sched_class) p.sched_class->wakeup_preempt(rq, p, wake_flags);
    else if (p.sched_class->rank < curr.sched_class->rank) resched_curr(rq);
}

}  // namespace kp
