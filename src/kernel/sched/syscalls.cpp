// Changing a task's scheduling from a running system (kernel/sched/syscalls.c
// and core.c): sched_yield, sched_setscheduler / set_user_nice, and
// set_cpus_allowed_ptr.
#include "kernel/preempt/preempt.h"
#include "kernel/sched/core.h"
#include "kernel/sched/rq_lock.h"

namespace kp {

void do_sched_yield() {
    rq& rq = this_rq();
    local_irq_disable();
    raw_spin_lock(rq.lock);
    update_rq_clock(rq);
    current().sched_class->yield_task(rq);
    preempt_disable();
    raw_spin_unlock_no_resched(rq.lock);
    local_irq_enable();
    sched_preempt_enable_no_resched();
    schedule();
}

namespace {

// The change protocol (Linux's sched_change guard): take the task out of
// its class, change it, put it back; a running task is put and set again.
// Under task_rq_lock: p's pi_lock (no wakeup places p meanwhile), then its
// runqueue's lock.
template <class Change>
void change_task(task_struct& p, Change change) {
    irq_guard irqs_off;
    p.pi_lock.lock(p.k->arch());
    rq& rq = __task_rq_lock(p);
    update_rq_clock(rq);
    const bool queued = p.on_rq != 0;
    const bool running = task_current(rq, p);
    if (queued) p.sched_class->dequeue_task(rq, p, 0);
    if (running) p.sched_class->put_prev_task(rq, p);
    change();
    if (queued) p.sched_class->enqueue_task(rq, p, 0);
    if (running) p.sched_class->set_next_task(rq, p, false);
    // Let the scheduler decide afresh: a running task may no longer be the
    // best choice, a queued one may now beat the running one.
    if (running) resched_curr(rq);
    else if (queued) wakeup_preempt(rq, p, 0);
    raw_spin_unlock_no_resched(rq.lock);
    p.pi_lock.unlock(p.k->arch());
}

}  // namespace

void sched_setscheduler(task_struct& p, sched_policy policy, int prio_or_nice) {
    change_task(p, [&] {
        if (policy == sched_policy::fifo || policy == sched_policy::rr) {
            sched_set_rt(p, policy, prio_or_nice);
            if (p.rt.time_slice <= 0) p.sched_class->task_fork(p);
        } else {
            sched_set_normal(p, prio_or_nice);
            p.policy = policy;
        }
    });
    preempt_check_resched();
}

void migrate_if_disallowed(task_struct& p) {
    // Under migrate_disable the task stays; its next pass through
    // __schedule after migrate_enable moves it.
    if (p.cpus_mask.test(static_cast<std::size_t>(p.cpu)) || p.migration_disabled) return;
    irq_guard irqs_off;
    rq& src = cpu_rq(*p.k, p.cpu);
    const int dst_cpu = select_task_rq(p, p.cpu, 0);
    rq& dst = cpu_rq(*p.k, dst_cpu);
    double_rq_lock(src, dst);
    // Only a queued task that is not running can be moved from here.
    if (p.on_rq && !task_current(src, p) && p.cpu == src.cpu && &src != &dst) {
        update_rq_clock(src);
        update_rq_clock(dst);
        deactivate_task(src, p, DEQUEUE_MIGRATING);
        set_task_cpu(p, dst_cpu);
        activate_task(dst, p, ENQUEUE_MIGRATED);
        wakeup_preempt(dst, p, 0);
    }
    double_rq_unlock(src, dst);
}

void set_cpus_allowed_ptr(task_struct& p, const cpumask& mask) {
    {
        irq_guard irqs_off;
        p.pi_lock.lock(p.k->arch());  // task_rq_lock: a wakeup reads the mask under it
        rq& rq = __task_rq_lock(p);
        p.cpus_mask = mask;
        p.nr_cpus_allowed = static_cast<int>(mask.count());
        // A running task leaves at its next switch (finish_task_switch
        // moves it, as Linux's stopper-based migration would).
        if (task_current(rq, p) && !mask.test(static_cast<std::size_t>(rq.cpu))) resched_curr(rq);
        raw_spin_unlock_no_resched(rq.lock);
        p.pi_lock.unlock(p.k->arch());
    }
    migrate_if_disallowed(p);
    preempt_check_resched();
}

}  // namespace kp
