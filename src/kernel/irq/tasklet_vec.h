// The per-CPU tasklet lists (tasklet_vec, tasklet_hi_vec in
// kernel/softirq.c). Apart from tasklet.h so that kernel.h can embed them in
// struct percpu: tasklet_struct carries a wait queue, and wait queues need
// kernel.h.
#pragma once

#include <cstdint>

namespace kp {

struct tasklet_struct;

// struct tasklet_head: singly linked through tasklet_struct::next, appended
// at the tail. Touched only by its own CPU, with interrupts off.
struct tasklet_head {
    tasklet_struct* head = nullptr;
    tasklet_struct** tail = &head;  // points into this object: never copied

    tasklet_head() = default;
    tasklet_head(const tasklet_head&) = delete;
    tasklet_head& operator=(const tasklet_head&) = delete;
};

struct tasklet_cpu {
    tasklet_head vec;     // tasklet_vec, served by TASKLET_SOFTIRQ
    tasklet_head hi_vec;  // tasklet_hi_vec, served by HI_SOFTIRQ
    std::uint64_t runs = 0;     // callbacks run from tasklet_vec
    std::uint64_t hi_runs = 0;  // ... from tasklet_hi_vec
    // Tasklets put back on the list because they were disabled or running
    // on another CPU (each re-raises the softirq).
    std::uint64_t requeued = 0;
    // WARN_ONCE's flag for "tasklet SCHED state not set". Linux's is one per
    // kernel; only CPU 0's copy is used, so that it is one per machine.
    bool warned_sched_not_set = false;
};

}  // namespace kp
