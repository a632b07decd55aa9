// Wait queues, completions and sleeping mutexes (kernel/sched/wait.c,
// completion.c, kernel/locking/mutex.c), on the scheduler's own blocking
// path: set the state, queue, schedule(); wakers call try_to_wake_up.
#pragma once

#include <cstdint>
#include <list>
#include <source_location>

#include "kernel/locking/spinlock.h"
#include "kernel/sched/core.h"

namespace kp {

inline constexpr unsigned WQ_FLAG_EXCLUSIVE = 0x01;

struct wait_queue_entry {
    task_struct* task = nullptr;
    unsigned flags = 0;
    bool queued = false;
    // Links in the head's list (Linux's entry list_head), valid while queued.
    wait_queue_entry* prev = nullptr;
    wait_queue_entry* next = nullptr;
};

// The waiters, linked through the entries themselves as Linux's list_head
// does: queueing allocates nothing. (No sentinel node, so a head may move
// while empty.)
struct wait_list {
    wait_queue_entry* first = nullptr;
    wait_queue_entry* last = nullptr;
    bool empty() const { return first == nullptr; }
    void push_front(wait_queue_entry& e);
    void push_back(wait_queue_entry& e);
    void remove(wait_queue_entry& e);
};

struct wait_queue_head {
    spinlock_t lock;
    wait_list head;
};

void prepare_to_wait(wait_queue_head& wq, wait_queue_entry& e, unsigned state);
void prepare_to_wait_exclusive(wait_queue_head& wq, wait_queue_entry& e, unsigned state);
void finish_wait(wait_queue_head& wq, wait_queue_entry& e);
// __wake_up: wake every non-exclusive waiter and up to nr_exclusive exclusive
// ones (0 = all). Returns how many were woken.
int __wake_up(wait_queue_head& wq, unsigned state, int nr_exclusive);
inline int wake_up(wait_queue_head& wq) { return __wake_up(wq, TASK_NORMAL, 1); }
inline int wake_up_all(wait_queue_head& wq) { return __wake_up(wq, TASK_NORMAL, 0); }
inline int wake_up_interruptible(wait_queue_head& wq) { return __wake_up(wq, TASK_INTERRUPTIBLE, 1); }

// wait_event(wq, cond): sleep TASK_UNINTERRUPTIBLE until cond() holds.
template <class Cond>
void wait_event(wait_queue_head& wq, Cond cond, unsigned state = TASK_UNINTERRUPTIBLE,
                bool exclusive = false) {
    if (cond()) return;
    wait_queue_entry e;
    for (;;) {
        if (exclusive) prepare_to_wait_exclusive(wq, e, state);
        else prepare_to_wait(wq, e, state);
        if (cond()) break;
        schedule();
    }
    finish_wait(wq, e);
}

struct completion {
    unsigned done = 0;
    wait_queue_head wait;
};
void init_completion(completion& x);
void complete(completion& x);
void complete_all(completion& x);
void wait_for_completion(completion& x, std::source_location loc = std::source_location::current());
// Returns remaining jiffies (at least 1) or 0 on timeout.
unsigned long wait_for_completion_timeout(completion& x, unsigned long timeout,
                                          std::source_location loc = std::source_location::current());
bool try_wait_for_completion(completion& x);
bool completion_done(const completion& x);

struct mutex {
    std::atomic<task_struct*> owner{nullptr};
    spinlock_t wait_lock;
    std::list<task_struct*> wait_list;
};
void mutex_lock(mutex& m, std::source_location loc = std::source_location::current());
bool mutex_trylock(mutex& m);
void mutex_unlock(mutex& m);
bool mutex_is_locked(const mutex& m);

struct mutex_ops {
    mutex& m;
    void acquire() { mutex_lock(m); }
    void release() { mutex_unlock(m); }
};
using mutex_guard = scoped<mutex_ops>;

}  // namespace kp
