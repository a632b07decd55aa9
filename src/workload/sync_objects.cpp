#include "workload/sync_objects.h"

namespace kp::workload {

void condvar::wait(mutex& m) {
    ticket t{&current()};
    {
        spin_guard g{lock_};
        waiters_.push_back(&t);
    }
    mutex_unlock(m);
    for (;;) {
        set_current_state(TASK_UNINTERRUPTIBLE);
        if (__atomic_load_n(&t.woken, __ATOMIC_ACQUIRE)) break;
        schedule();
    }
    __set_current_state(TASK_RUNNING);
    mutex_lock(m);
}

// Only while the machine is being set up (no CPU runs, no lock to take).
void condvar::add_not_started(task_struct& t) { waiters_.push_back(new ticket{&t, false, true}); }

// Called with lock_ held, the ticket already off the queue.
void condvar::wake(ticket* t) {
    task_struct* task = t->task;  // read before the waiter may return and drop its ticket
    if (t->owned) delete t;
    else __atomic_store_n(&t->woken, true, __ATOMIC_RELEASE);
    wake_up_process(*task);
}

void condvar::signal() {
    spin_guard g{lock_};
    if (waiters_.empty()) return;
    ticket* t = waiters_.front();
    waiters_.pop_front();
    wake(t);
}

void condvar::broadcast() {
    spin_guard g{lock_};
    while (!waiters_.empty()) {
        ticket* t = waiters_.front();
        waiters_.pop_front();
        wake(t);
    }
}

condvar::~condvar() {
    for (ticket* t : waiters_)
        if (t->owned) delete t;
}

void barrier::arrive() {
    mutex_guard g{m_};
    if (++waiting_ >= users_) {
        waiting_ = 0;
        ++generation_;
        cv_.broadcast();
        return;
    }
    const unsigned gen = generation_;
    while (gen == generation_) cv_.wait(m_);
}

void semaphore::post() {
    {
        spin_guard g{lock_};
        ++count_;
    }
    wake_up(wq_);
}

void semaphore::wait() {
    for (;;) {
        {
            spin_guard g{lock_};
            if (count_ > 0) {
                --count_;
                return;
            }
        }
        wait_event(wq_, [this] { return __atomic_load_n(&count_, __ATOMIC_ACQUIRE) > 0; }, TASK_UNINTERRUPTIBLE,
                   true);
    }
}

}  // namespace kp::workload
