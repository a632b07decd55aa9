// Which stack the calling code runs on, by its real stack pointer: the
// CPU's irq stack, the current task's stack, or neither. For the irq stack
// tests of both machines.
#pragma once

#include <cstdint>

#include "kernel/kernel.h"
#include "kernel/sched/task.h"

namespace kp {

enum class stack_where { irq, task, elsewhere };

inline bool sp_within(std::uintptr_t sp, const task_stack& s) {
    const auto bottom = reinterpret_cast<std::uintptr_t>(s.bottom());
    return sp >= bottom && sp < bottom + s.size();
}

// noinline: its own frame, on the caller's stack, is the one measured.
[[gnu::noinline]] inline stack_where where_am_i() {
    const auto sp = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
    if (sp_within(sp, *this_cpu().hardirq_stack)) return stack_where::irq;
    if (current().stack && sp_within(sp, *current().stack)) return stack_where::task;
    return stack_where::elsewhere;
}

}  // namespace kp
