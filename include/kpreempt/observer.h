// Scheduling events as the core sees them: what tests, reports and (later)
// the tracepoints consume.
#pragma once

#include <cstdint>
#include <string_view>

#include "kpreempt/time.h"

namespace kp {

// The preemption point through which a switch happened. `none` is a task
// that blocked or called schedule() itself.
enum class preempt_point : std::uint8_t {
    none,            // schedule() / blocking
    return_to_user,  // exit_to_user_mode_loop
    irq_exit,        // irqentry_exit -> preempt_schedule_irq
    preempt_enable,  // outermost preempt_enable -> preempt_schedule
    cond_resched,    // cond_resched -> __cond_resched
    might_resched,   // might_sleep/might_resched -> __cond_resched (voluntary)
    idle,            // the idle loop leaving for work
    exit,            // the task exited
};

std::string_view preempt_point_name(preempt_point p);

struct sched_switch_event {
    nsec_t time;
    int cpu;
    int prev_pid;
    std::string_view prev_comm;
    unsigned prev_state;
    int next_pid;
    std::string_view next_comm;
    bool preempt;  // __schedule(SM_PREEMPT)
    preempt_point point;
};

struct sched_wakeup_event {
    nsec_t time;
    int cpu;        // where the waker ran (-1 outside the machine)
    int pid;
    int target_cpu;
};

class sched_observer {
public:
    virtual ~sched_observer() = default;
    virtual void on_switch(const sched_switch_event&) {}
    virtual void on_wakeup(const sched_wakeup_event&) {}
    virtual void on_migrate(nsec_t /*time*/, int /*pid*/, int /*from*/, int /*to*/) {}
    // A device interrupt handler starts (entry) or returns (!entry) on a CPU.
    virtual void on_irq_handler(nsec_t /*time*/, int /*cpu*/, int /*irq*/, bool /*entry*/) {}
};

}  // namespace kp
