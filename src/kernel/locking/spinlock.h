// spinlock_t on a non-RT kernel: a raw spinlock that disables preemption
// (PREEMPT_LOCK_OFFSET), with the _irq and _irqsave forms, and RAII guards.
#pragma once

#include "kernel/preempt/preempt.h"

namespace kp {

struct spinlock_t {
    arch_spinlock raw;
};

inline void spin_lock(spinlock_t& l) {
    preempt_disable();
    l.raw.lock(this_kernel().arch());
}
inline void spin_unlock(spinlock_t& l) {
    l.raw.unlock(this_kernel().arch());
    preempt_enable();  // outermost: a preemption point under FULL
}
inline void spin_lock_irq(spinlock_t& l) {
    local_irq_disable();
    spin_lock(l);
}
inline void spin_unlock_irq(spinlock_t& l) {
    l.raw.unlock(this_kernel().arch());
    local_irq_enable();
    preempt_enable();
}
inline irqflags_t spin_lock_irqsave(spinlock_t& l) {
    const irqflags_t flags = local_irq_save();
    spin_lock(l);
    return flags;
}
inline void spin_unlock_irqrestore(spinlock_t& l, irqflags_t flags) {
    l.raw.unlock(this_kernel().arch());
    local_irq_restore(flags);
    preempt_enable();
}
inline bool spin_trylock(spinlock_t& l) {
    preempt_disable();
    if (l.raw.try_lock()) return true;
    preempt_enable();
    return false;
}

struct spin_lock_ops {
    spinlock_t& l;
    void acquire() { spin_lock(l); }
    void release() { spin_unlock(l); }
};
struct spin_lock_irq_ops {
    spinlock_t& l;
    void acquire() { spin_lock_irq(l); }
    void release() { spin_unlock_irq(l); }
};
struct spin_lock_irqsave_ops {
    spinlock_t& l;
    irqflags_t flags = 0;
    void acquire() { flags = spin_lock_irqsave(l); }
    void release() { spin_unlock_irqrestore(l, flags); }
};
using spin_guard = scoped<spin_lock_ops>;
using spin_irq_guard = scoped<spin_lock_irq_ops>;
using spin_irqsave_guard = scoped<spin_lock_irqsave_ops>;

}  // namespace kp
