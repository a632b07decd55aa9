// arch_spinlock: the bare lock word, no preemption handling. raw_spinlock
// (below, and spinlock.h for tasks) adds what Linux adds around it.
#pragma once

#include <atomic>

namespace kp {

class arch_machine;

class arch_spinlock {
public:
    // acq_rel, not Linux's acquire: on x86 the same xchg, and it keeps the
    // compiler from sinking earlier stores past it, which is what lets
    // smp_mb__after_spinlock() be empty there.
    bool try_lock() { return !locked_.exchange(true, std::memory_order_acq_rel); }
    // Uncontended: one exchange, inline; contended: spin in lock_slow.
    void lock(arch_machine& arch) {
        if (!try_lock()) [[unlikely]]
            lock_slow(arch);
    }
    void unlock(arch_machine& arch);
    bool is_locked() const { return locked_.load(std::memory_order_relaxed); }

private:
    void lock_slow(arch_machine& arch);
    std::atomic<bool> locked_{false};
};

// A full barrier after taking a lock (try_to_wake_up orders its load of
// p->state after the waker's stores with it). On x86 the lock's xchg already
// is one, so it is only a compiler barrier, as Linux defines it there.
inline void smp_mb__after_spinlock() {
#if defined(__x86_64__)
    std::atomic_signal_fence(std::memory_order_seq_cst);
#else
    std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

}  // namespace kp
