// rt-app's synchronisation resources, built from the kernel's own
// primitives so that their blocking goes through the scheduler like a
// futex would: condition variables (wait / signal / broad / sync), barriers,
// suspend / resume, and semaphores (sem_post / sem_wait).
#pragma once

#include <deque>
#include <memory>
#include <string>

#include "kernel/locking/wait.h"

namespace kp::workload {

// A pthread-like condition variable: signal wakes the first waiter, broad
// every waiter; a signal with no waiter is lost (as pthread's).
class condvar {
public:
    condvar() = default;
    ~condvar();
    condvar(const condvar&) = delete;
    condvar& operator=(const condvar&) = delete;
    void wait(mutex& m);  // unlock m, sleep until signalled, relock m
    void signal();
    void broadcast();
    // A task created stopped counts as waiting here: the first signal or
    // broadcast starts it (it never ran, so it holds no mutex to retake).
    // Before the machine runs only.
    void add_not_started(task_struct& t);

private:
    struct ticket {
        task_struct* task;
        bool woken = false;
        bool owned = false;  // a not-started task's ticket, freed when woken
    };
    void wake(ticket* t);
    spinlock_t lock_;
    std::deque<ticket*> waiters_;
};

// rt-app's barrier: the last of `users` arrivals releases everyone.
class barrier {
public:
    explicit barrier(int users) : users_(users) {}
    void arrive();

private:
    mutex m_;
    condvar cv_;
    int users_;
    int waiting_ = 0;
    unsigned generation_ = 0;
};

// A counting semaphore starting at 0: posts are remembered.
class semaphore {
public:
    void post();
    void wait();

private:
    spinlock_t lock_;
    unsigned count_ = 0;
    wait_queue_head wq_;
};

}  // namespace kp::workload
