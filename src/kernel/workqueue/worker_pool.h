// A CPU's worker pool (struct worker_pool, kernel/workqueue.c): the work
// items queued to that CPU and the kernel thread that runs them. Apart from
// workqueue.h so that kernel.h can embed it in struct percpu.
#pragma once

#include <cstdint>
#include <list>

#include "kernel/locking/raw_spinlock.h"

namespace kp {

struct task_struct;
struct work_struct;
struct workqueue_struct;

// Linux keeps two pools per CPU (normal and highpri, "kworker/N:0H") and
// manages a varying number of workers in each, waking another one when the
// running worker sleeps; here each CPU has one pool with exactly one worker
// (docs/differences.md).
struct worker_pool {
    int cpu = -1;
    arch_spinlock lock;                // pool->lock, always taken with interrupts off
    std::list<work_struct*> worklist;  // queued items in order, flush barriers included
    task_struct* worker = nullptr;     // kworker/N:0
    bool worker_idle = true;           // asleep waiting for work (worker_enter_idle)
    // What the worker is running now (Linux's busy_hash, with one worker):
    // the non-reentrancy check and flush_work look here.
    work_struct* current_work = nullptr;
    const workqueue_struct* current_wq = nullptr;
    std::uint64_t nr_executed = 0;  // work functions run to completion, barriers not counted
};

}  // namespace kp
