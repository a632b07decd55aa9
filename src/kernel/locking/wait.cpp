#include <algorithm>

#include "kernel/debug/debug.h"
#include "kernel/trace/callpath.h"
#include "kernel/locking/wait.h"
#include "kernel/time/timer.h"

namespace kp {

void wait_list::push_front(wait_queue_entry& e) {
    e.prev = nullptr;
    e.next = first;
    (first ? first->prev : last) = &e;
    first = &e;
}

void wait_list::push_back(wait_queue_entry& e) {
    e.prev = last;
    e.next = nullptr;
    (last ? last->next : first) = &e;
    last = &e;
}

void wait_list::remove(wait_queue_entry& e) {
    (e.prev ? e.prev->next : first) = e.next;
    (e.next ? e.next->prev : last) = e.prev;
    e.prev = e.next = nullptr;
}

namespace {

void queue_entry(wait_queue_head& wq, wait_queue_entry& e, unsigned state, bool exclusive) {
    e.task = &current();
    spin_irqsave_guard g{wq.lock};
    if (!e.queued) {
        if (exclusive) {
            e.flags |= WQ_FLAG_EXCLUSIVE;
            wq.head.push_back(e);  // exclusive waiters at the tail
        } else {
            e.flags &= ~WQ_FLAG_EXCLUSIVE;
            wq.head.push_front(e);
        }
        e.queued = true;
    }
    set_current_state(state);
}

}  // namespace

void prepare_to_wait(wait_queue_head& wq, wait_queue_entry& e, unsigned state) { queue_entry(wq, e, state, false); }

void prepare_to_wait_exclusive(wait_queue_head& wq, wait_queue_entry& e, unsigned state) {
    queue_entry(wq, e, state, true);
}

void finish_wait(wait_queue_head& wq, wait_queue_entry& e) {
    __set_current_state(TASK_RUNNING);
    spin_irqsave_guard g{wq.lock};
    if (e.queued) {
        wq.head.remove(e);
        e.queued = false;
    }
}

int __wake_up(wait_queue_head& wq, unsigned state, int nr_exclusive) {
    shadow_frame<"__wake_up"> frame;
    spin_irqsave_guard g{wq.lock};
    int woken = 0;
    for (wait_queue_entry* e = wq.head.first; e;) {
        // Entries leave only under wq.lock, held here, so next stays.
        wait_queue_entry* const next = e->next;
        // autoremove_wake_function: dequeue the entry it wakes.
        const bool did = try_to_wake_up(*e->task, state, 0) != 0;
        if (did) {
            wq.head.remove(*e);
            e->queued = false;
            ++woken;
        }
        if (did && (e->flags & WQ_FLAG_EXCLUSIVE) && --nr_exclusive == 0) break;
        e = next;
    }
    return woken;
}

void init_completion(completion& x) { x.done = 0; }

void complete(completion& x) {
    shadow_frame<"complete"> frame;
    {
        spin_irqsave_guard g{x.wait.lock};
        if (x.done != UINT32_MAX) ++x.done;
    }
    __wake_up(x.wait, TASK_NORMAL, 1);
}

void complete_all(completion& x) {
    {
        spin_irqsave_guard g{x.wait.lock};
        x.done = UINT32_MAX;
    }
    __wake_up(x.wait, TASK_NORMAL, 0);
}

bool try_wait_for_completion(completion& x) {
    spin_irqsave_guard g{x.wait.lock};
    if (!x.done) return false;
    if (x.done != UINT32_MAX) --x.done;
    return true;
}

bool completion_done(const completion& x) { return x.done != 0; }

unsigned long wait_for_completion_timeout(completion& x, unsigned long timeout, std::source_location loc) {
    __might_sleep(loc);
    might_resched();
    long left = static_cast<long>(timeout);
    wait_queue_entry e;
    while (!try_wait_for_completion(x)) {
        if (left == 0) {
            finish_wait(x.wait, e);
            return 0;
        }
        prepare_to_wait_exclusive(x.wait, e, TASK_UNINTERRUPTIBLE);
        if (x.done) continue;
        left = timeout == MAX_SCHEDULE_TIMEOUT ? (schedule(), left) : schedule_timeout(left);
    }
    finish_wait(x.wait, e);
    return left > 0 ? static_cast<unsigned long>(left) : 1;
}

void wait_for_completion(completion& x, std::source_location loc) {
    wait_for_completion_timeout(x, MAX_SCHEDULE_TIMEOUT, loc);
}

bool mutex_trylock(mutex& m) {
    task_struct* expected = nullptr;
    return m.owner.compare_exchange_strong(expected, &current(), std::memory_order_acquire);
}

void mutex_lock(mutex& m, std::source_location loc) {
    __might_sleep(loc);
    might_resched();
    if (mutex_trylock(m)) return;
    task_struct& self = current();
    spin_lock(m.wait_lock);
    m.wait_list.push_back(&self);
    for (;;) {
        if (mutex_trylock(m)) break;
        set_current_state(TASK_UNINTERRUPTIBLE);
        spin_unlock(m.wait_lock);
        schedule();
        spin_lock(m.wait_lock);
    }
    m.wait_list.remove(&self);
    __set_current_state(TASK_RUNNING);
    spin_unlock(m.wait_lock);
}

void mutex_unlock(mutex& m) {
    spin_lock(m.wait_lock);
    m.owner.store(nullptr, std::memory_order_release);
    task_struct* first = m.wait_list.empty() ? nullptr : m.wait_list.front();
    if (first) wake_up_process(*first);
    spin_unlock(m.wait_lock);
}

bool mutex_is_locked(const mutex& m) { return m.owner.load(std::memory_order_relaxed) != nullptr; }

}  // namespace kp
