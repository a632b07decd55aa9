// arch_spinlock: the bare lock word, no preemption handling. raw_spinlock
// (below, and spinlock.h for tasks) adds what Linux adds around it.
#pragma once

#include <atomic>

namespace kp {

class arch_machine;

class arch_spinlock {
public:
    bool try_lock() { return !locked_.exchange(true, std::memory_order_acquire); }
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

}  // namespace kp
