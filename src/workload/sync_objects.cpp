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

void condvar::signal() {
    ticket* t = nullptr;
    {
        spin_guard g{lock_};
        if (waiters_.empty()) return;
        t = waiters_.front();
        waiters_.pop_front();
        task_struct* task = t->task;
        __atomic_store_n(&t->woken, true, __ATOMIC_RELEASE);
        wake_up_process(*task);
    }
}

void condvar::broadcast() {
    spin_guard g{lock_};
    while (!waiters_.empty()) {
        ticket* t = waiters_.front();
        waiters_.pop_front();
        task_struct* task = t->task;
        __atomic_store_n(&t->woken, true, __ATOMIC_RELEASE);
        wake_up_process(*task);
    }
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
