// try_to_wake_up and task placement (kernel/sched/core.c, spec 6.1).
//
// Differences from Linux, on purpose: no remote wakelist (TTWU_QUEUE); the
// waker locks the target runqueue itself, as Linux does when both CPUs
// share a cache. The reschedule IPI then tells the target.
#include <cassert>

#include "kernel/preempt/preempt.h"
#include "kernel/trace/callpath.h"
#include "kernel/sched/core.h"
#include "kernel/trace/tracepoint.h"
#include "kernel/sched/rq_lock.h"

namespace kp {

namespace {

// A CPU in [lo, hi) whose curr has lower priority (a higher number) than
// best_prio: the first of the lowest found, which becomes the new best.
// Priority first: after the first CPU running a fair task, nearly every
// other one fails that test, which is cheaper than the mask's.
void lowest_in(kernel& k, const task_struct& p, int lo, int hi, int& best, int& best_prio) {
    for (int cpu = lo; cpu < hi; ++cpu) {
        const percpu& pc = k.cpu(cpu);
        // An idle CPU ranks below every task (cpupri's CPUPRI_IDLE): the
        // idle task's own prio is 120, as Linux's init_task.
        const task_struct* curr = pc.runqueue.curr;
        const int prio = curr == pc.runqueue.idle ? MAX_PRIO : curr->prio;
        if (prio <= best_prio || !p.cpus_mask.test(static_cast<std::size_t>(cpu)) || !pc.online) continue;
        best = cpu;
        best_prio = prio;
    }
}

// Lowest-priority CPU for an RT task (cpupri's idea, by a scan from
// prev_cpu round to prev_cpu - 1).
int find_lowest_rq(kernel& k, const task_struct& p, int prev_cpu) {
    int best = -1;
    int best_prio = p.prio;  // must be lower priority (higher number) than p
    const int n = k.nr_cpus();
    const int from = prev_cpu % n;
    lowest_in(k, p, from, n, best, best_prio);
    lowest_in(k, p, 0, from, best, best_prio);
    return best;
}

}  // namespace

int select_task_rq(task_struct& p, int prev_cpu, int /*wake_flags*/) {
    kernel& k = *p.k;
    auto allowed = [&](int cpu) { return p.cpus_mask.test(static_cast<std::size_t>(cpu)) && k.cpu(cpu).online; };
    // select_idle_sibling: prev if idle, else any idle CPU, scanning from
    // prev (kernel::idle_cpus holds available_idle_cpu(): curr is idle,
    // nothing queued, online).
    const int idle = find_idle_cpu(k, p.cpus_mask, prev_cpu);
    if (idle >= 0) return idle;
    if (task_is_rt(p)) {
        const int cpu = find_lowest_rq(k, p, prev_cpu);
        if (cpu >= 0) return cpu;
    }
    if (allowed(prev_cpu)) return prev_cpu;
    for (int cpu = 0; cpu < k.nr_cpus(); ++cpu)
        if (allowed(cpu)) return cpu;
    return prev_cpu;
}

namespace {

void ttwu_do_activate(rq& rq, task_struct& p, int wake_flags) {
    shadow_frame<"ttwu_do_activate"> frame;
    activate_task(rq, p, ENQUEUE_WAKEUP | ((wake_flags & WF_MIGRATED) ? ENQUEUE_MIGRATED : 0));
    wakeup_preempt(rq, p, wake_flags);
    p.__state.store(TASK_RUNNING, std::memory_order_relaxed);
}

// Inlined as it is without tracepoints: on every wakeup, a call costs more
// than its body. Under the lock of the task's runqueue, whose clock was just
// updated: that is the wakeup's time.
[[gnu::always_inline]] inline void note_wakeup(task_struct& p, const rq& rq,
                                               trace_event ev = trace_event::sched_wakeup) {
    kernel& k = *p.k;
    trace_point(k, ev, p.pid, p.prio, rq.cpu);
    const nsec_t now = rq.clock;
    p.last_wakeup = now;
    if (k.observer) k.observer->on_wakeup({now, smp_processor_id(), p.pid, rq.cpu});
}

// The task is still queued (it set a sleeping state but has not switched
// out yet, or was preempted in it): just mark it running.
bool ttwu_runnable(task_struct& p, int wake_flags) {
    rq& rq = __task_rq_lock(p);
    const bool queued = p.on_rq != 0;
    if (queued) {
        update_rq_clock(rq);
        if (!task_current(rq, p)) wakeup_preempt(rq, p, wake_flags);
        p.__state.store(TASK_RUNNING, std::memory_order_relaxed);
        note_wakeup(p, rq);
    }
    raw_spin_unlock_no_resched(rq.lock);
    return queued;
}

}  // namespace

int try_to_wake_up(task_struct& p, unsigned state, int wake_flags) {
    shadow_frame<"try_to_wake_up"> frame;
    wake_flags |= WF_TTWU;
    kernel& k = *p.k;
    assert(this_cpu_ptr && "wakeups come from a CPU of the machine");
    preempt_guard no_preempt;
    if (&p == &current()) {
        if (!(p.state() & state)) return 0;
        trace_point(k, trace_event::sched_waking, p.pid, p.prio, p.cpu);
        p.__state.store(TASK_RUNNING, std::memory_order_relaxed);
        trace_point(k, trace_event::sched_wakeup, p.pid, p.prio, p.cpu);
        return 1;
    }
    irq_guard irqs_off;
    p.pi_lock.lock(k.arch());
    smp_mb__after_spinlock();  // pairs with set_current_state
    int success = 0;
    if (p.state() & state) {
        success = 1;
        trace_point(k, trace_event::sched_waking, p.pid, p.prio, p.cpu);
        if (!ttwu_runnable(p, wake_flags)) {
            p.__state.store(TASK_WAKING, std::memory_order_relaxed);
            while (task_on_cpu(p)) k.arch().cpu_wait_event();  // still switching out elsewhere
            const int cpu = select_task_rq(p, p.cpu, wake_flags);
            if (cpu != p.cpu) {
                wake_flags |= WF_MIGRATED;
                set_task_cpu(p, cpu);
            }
            rq& rq = cpu_rq(k, cpu);
            raw_spin_lock(rq.lock);
            update_rq_clock(rq);
            ttwu_do_activate(rq, p, wake_flags);
            note_wakeup(p, rq);
            raw_spin_unlock_no_resched(rq.lock);
        }
    }
    p.pi_lock.unlock(k.arch());
    return success;
}

int wake_up_process(task_struct& p) { return try_to_wake_up(p, TASK_NORMAL, 0); }
int wake_up_state(task_struct& p, unsigned state) { return try_to_wake_up(p, state, 0); }

void wake_up_new_task(task_struct& p) {
    shadow_frame<"wake_up_new_task"> frame;
    kernel& k = *p.k;
    p.__state.store(TASK_RUNNING, std::memory_order_relaxed);
    const int cpu = select_task_rq(p, p.cpu, WF_FORK);
    set_task_cpu(p, cpu);
    p.wake_cpu = cpu;
    rq& rq = cpu_rq(k, cpu);
    irqflags_t flags = this_cpu_ptr ? local_irq_save() : 0;
    if (this_cpu_ptr) raw_spin_lock(rq.lock);
    else rq.lock.lock(k.arch());  // from outside the machine (before it runs)
    update_rq_clock(rq);
    activate_task(rq, p, ENQUEUE_INITIAL);
    note_wakeup(p, rq, trace_event::sched_wakeup_new);
    wakeup_preempt(rq, p, WF_FORK);
    if (this_cpu_ptr) {
        raw_spin_unlock_no_resched(rq.lock);
        local_irq_restore(flags);
    } else {
        rq.lock.unlock(k.arch());
    }
}

}  // namespace kp
