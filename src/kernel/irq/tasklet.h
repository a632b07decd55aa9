// Tasklets (kernel/softirq.c, include/linux/interrupt.h): deferred functions
// run from a softirq on the CPU that scheduled them, HI_SOFTIRQ for
// tasklet_hi_schedule() and TASKLET_SOFTIRQ for tasklet_schedule().
//
// Two state bits make them simpler to use than raw softirqs:
// TASKLET_STATE_SCHED, set by scheduling and cleared just before the
// callback runs, so a tasklet is queued once however often it is scheduled
// before it runs (and may schedule itself again from its callback); and
// TASKLET_STATE_RUN, taken with a trylock around the callback, so a tasklet
// never runs on two CPUs at once. A tasklet found running elsewhere, or
// disabled (count > 0), is put back on the list and the softirq raised
// again: it is retried round after round, then by ksoftirqd.
#pragma once

#include <atomic>
#include <functional>
#include <source_location>

#include "kernel/irq/tasklet_vec.h"
#include "kernel/locking/wait.h"

namespace kp {

class kernel;

enum : unsigned {
    TASKLET_STATE_SCHED = 0,  // scheduled for execution
    TASKLET_STATE_RUN = 1,    // its callback is running
};

struct tasklet_struct {
    tasklet_struct* next = nullptr;  // on a CPU's tasklet_head
    std::atomic<unsigned long> state{0};
    std::atomic<int> count{0};  // disable depth: runs only at 0
    std::function<void(tasklet_struct&)> callback;
    unsigned long data = 0;     // tasklet_init's argument
    bool use_callback = true;   // tasklet_setup, not tasklet_init (for the WARN text)
    // Woken when SCHED or RUN clears, for tasklet_kill and tasklet_disable.
    // Linux's wake_up_var uses a hashed global table of wait queues instead.
    wait_queue_head wait;
};

void tasklet_setup(tasklet_struct& t, std::function<void(tasklet_struct&)> callback);
// The old form: func(data).
void tasklet_init(tasklet_struct& t, std::function<void(unsigned long)> func, unsigned long data);

// Queue on this CPU's list and raise the softirq, unless already scheduled.
// Any context.
void tasklet_schedule(tasklet_struct& t);
void tasklet_hi_schedule(tasklet_struct& t);

// RUN as a lock: only the softirq takes it (tasklet_action).
bool tasklet_trylock(tasklet_struct& t);
void tasklet_unlock(tasklet_struct& t);
// Sleep until the callback is not running (task context).
void tasklet_unlock_wait(tasklet_struct& t, std::source_location loc = std::source_location::current());

// Disabling only counts: a disabled tasklet can still be scheduled, it is
// just not run. tasklet_disable also waits for a running callback to end,
// so it may sleep.
void tasklet_disable_nosync(tasklet_struct& t);
void tasklet_disable(tasklet_struct& t, std::source_location loc = std::source_location::current());
void tasklet_enable(tasklet_struct& t);

// Wait until the tasklet is neither scheduled nor running, and leave it
// unscheduled (task context; a disabled, scheduled tasklet waits forever,
// as in Linux).
void tasklet_kill(tasklet_struct& t, std::source_location loc = std::source_location::current());

// Open HI_SOFTIRQ and TASKLET_SOFTIRQ (softirq_init's tasklet half).
void init_tasklets(kernel& k);

struct tasklet_disable_ops {
    tasklet_struct& t;
    void acquire() { tasklet_disable(t); }
    void release() { tasklet_enable(t); }
};
using tasklet_disable_guard = scoped<tasklet_disable_ops>;

}  // namespace kp
