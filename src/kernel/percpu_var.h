// Per-CPU variables (include/linux/percpu-defs.h): one instance per CPU,
// reached through get_cpu_var(), which disables preemption while the caller
// holds it, so that the instance stays the calling CPU's; per_cpu(cpu) for
// another CPU's (its owner's locking applies).
//
// This is also the host machine's rule for a program's own thread_local
// data: a task runs on a vCPU thread, so a thread_local it touches is the
// vCPU's, like per-CPU data, and stays the task's only while the task
// cannot be switched away. Keep such data in a per_cpu<T>, or touch it only
// with preemption disabled (docs/host.md: "thread_local and errno").
#pragma once

#include <array>
#include <cassert>

#include "kernel/preempt/preempt.h"
#include "kernel/sched/task.h"

namespace kp {

template <class T>
class per_cpu {
public:
    // get_cpu_var / put_cpu_var: the calling CPU's instance, with
    // preemption disabled until the guard goes.
    class [[nodiscard]] guard {
    public:
        explicit guard(per_cpu& v) : preempt_{}, value_(&v.on(smp_processor_id())) {}
        T& operator*() const { return *value_; }
        T* operator->() const { return value_; }

    private:
        preempt_guard preempt_;  // first: taken before the CPU is read
        T* value_;
    };

    guard get_cpu_var() { return guard(*this); }
    // per_cpu(var, cpu)
    T& on(int cpu) {
        assert(cpu >= 0 && cpu < NR_CPUS);
        return slots_[static_cast<std::size_t>(cpu)].value;
    }

private:
    struct alignas(64) slot {  // one cache line each: no false sharing between CPUs
        T value{};
    };
    std::array<slot, NR_CPUS> slots_{};
};

}  // namespace kp
