#include "kernel/smpboot.h"

#include "kernel/fork.h"
#include "kernel/preempt/preempt.h"
#include "kernel/sched/core.h"

namespace kp {

namespace {

// smpboot_thread_fn without parking and stopping (no CPU hotplug here). The
// state is set before the check, so a wakeup between the check and
// schedule() makes the task RUNNING again and is not lost.
[[noreturn]] void smpboot_thread_fn(const smp_hotplug_thread& ht, int cpu) {
    for (;;) {
        set_current_state(TASK_INTERRUPTIBLE);
        preempt_disable();
        if (!ht.thread_should_run(cpu)) {
            preempt_enable_no_resched();
            schedule();
        } else {
            __set_current_state(TASK_RUNNING);
            preempt_enable();
            ht.thread_fn(cpu);
        }
    }
}

}  // namespace

void smpboot_register_percpu_thread(kernel& k, const smp_hotplug_thread& ht) {
    for (int cpu = 0; cpu < k.nr_cpus(); ++cpu) {
        task_params params;
        params.name = ht.thread_comm + std::to_string(cpu);
        params.percpu_kthread = true;
        params.affinity.set(static_cast<std::size_t>(cpu));
        params.cpu = cpu;
        task_struct& p = kernel_clone(k, params, [ht, cpu] { smpboot_thread_fn(ht, cpu); });
        leave_stopped(p);
        ht.store(k.cpu(cpu)) = &p;
    }
}

}  // namespace kp
