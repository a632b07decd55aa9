// The idle class and the idle loop (kernel/sched/idle.c, idle.c's do_idle).
#include "kernel/preempt/preempt.h"
#include "kernel/sched/core.h"
#include "kernel/trace/callpath.h"
#include "kernel/trace/trace_irqsoff.h"

namespace kp {

namespace {

struct idle_class final : sched_class {
    constexpr idle_class() : sched_class(2) {}
    void enqueue_task(rq&, task_struct&, int) const override {}
    void dequeue_task(rq&, task_struct&, int) const override {}
    void yield_task(rq&) const override {}
    // Anything that wakes on an idle CPU preempts idle.
    void wakeup_preempt(rq& rq, task_struct&, int) const override { resched_curr(rq); }
    task_struct* pick_task(rq& rq) const override { return rq.idle; }
    void put_prev_task(rq&, task_struct&) const override {}
    void set_next_task(rq&, task_struct&, bool) const override {}
    void task_tick(rq&, task_struct&) const override {}
    void update_curr(rq&) const override {}
    void task_fork(task_struct&) const override {}
};

const idle_class idle_instance;

}  // namespace

const sched_class& idle_sched_class = idle_instance;

// do_idle(): wait for an interrupt until there is work, then schedule.
[[noreturn]] void cpu_idle_loop() {
    arch_machine& arch = this_kernel().arch();
    for (;;) {
        shadow_frame<"do_idle"> frame;
        while (!need_resched()) {
            local_irq_disable();
            if (need_resched()) {
                local_irq_enable();
                break;
            }
            // default_idle_call: the wait is not a latency for the tracers.
            stop_critical_timings();
            arch.cpu_idle();  // enables interrupts and waits
            start_critical_timings();
        }
        // A remote setter skipped the fold: fold it now (preempt_set_need_resched).
        preempt_word_here().set_need_resched();
        schedule_idle();
    }
}

}  // namespace kp
