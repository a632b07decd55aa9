// Creating, starting and ending tasks (kernel/fork.c, kernel/exit.c).
#pragma once

#include <functional>
#include <string>

#include "kernel/kernel.h"

namespace kp {

struct task_params {
    std::string name = "task";
    sched_policy policy = sched_policy::normal;
    int nice = 0;
    int rt_priority = 0;  // 1..99 for fifo / rr
    cpumask affinity;     // empty = all CPUs
    bool kthread = false;
    // A per-CPU kernel thread of the kernel itself (smpboot): PF_NO_SETAFFINITY,
    // and not counted among the live tasks the machine waits for.
    bool percpu_kthread = false;
    // Not among the live tasks the machine waits for (irq threads).
    bool counts_as_live = true;
    int cpu = 0;          // preferred first CPU
};

// kernel_clone: a task that has never run, in TASK_NEW. Start it with
// wake_up_new_task(), or leave it and wake it with wake_up_process() later
// (then it stays TASK_UNINTERRUPTIBLE until woken, like kthread_create).
task_struct& kernel_clone(kernel& k, const task_params& params, std::function<void()> body);
void leave_stopped(task_struct& p);

// The idle task of a CPU (swapper/N).
task_struct& fork_idle(kernel& k, int cpu);

// exit(): report a leaked preempt_count or irqs-off, then die.
[[noreturn]] void do_exit();

}  // namespace kp
