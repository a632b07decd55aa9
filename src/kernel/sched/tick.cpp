// The scheduler tick (sched_tick, kernel/sched/core.c) and the periodic
// tick timer that drives it (tick_sched_timer, kernel/time/tick-sched.c).
#include "kernel/preempt/preempt.h"
#include "kernel/trace/callpath.h"
#include "kernel/sched/core.h"
#include "kernel/sched/rq_lock.h"
#include "kernel/time/timer.h"

namespace kp {

void sched_tick() {
    shadow_frame<"sched_tick"> frame;
    rq& rq = this_rq();
    {
        raw_spin_lock(rq.lock);
        update_rq_clock(rq);
        task_struct& curr = *rq.curr;
        curr.sched_class->task_tick(rq, curr);
        raw_spin_unlock_no_resched(rq.lock);
    }
    // Linux raises SCHED_SOFTIRQ for this; we balance right here.
    sched_balance_tick(rq);
}

namespace {

// update_process_times(): raise the TIMER softirq if a jiffies timer is due
// (its callbacks run at this irq's exit, after sched_tick), then the
// scheduler.
void update_process_times() {
    run_local_timers();
    sched_tick();
}

hrtimer_restart tick_sched_timer(hrtimer& t) {
    shadow_frame<"tick_nohz_handler"> frame;
    percpu& pc = this_cpu();
    kernel& k = *pc.k;
    if (pc.cpu == k.tick_do_timer_cpu) k.jiffies.fetch_add(1, std::memory_order_relaxed);  // do_timer
    if (k.config().costs.tick > 0) k.arch().burn(k.config().costs.tick);
    update_process_times();
    hrtimer_forward_now(t, k.tick_nsec());
    return hrtimer_restart::restart;
}

}  // namespace

// tick_setup_sched_timer: the first tick one period after boot, then every
// TICK_NSEC, on every CPU (periodic mode: no NOHZ idle).
void tick_setup_sched_timer(percpu& pc) {
    pc.tick_timer.function = tick_sched_timer;
    pc.tick_timer.name = "tick_nohz_handler";  // 6.12's name for it
    hrtimer_start_on(pc, pc.tick_timer, pc.k->tick_nsec());
}

}  // namespace kp
