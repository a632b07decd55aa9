// Per-CPU kernel threads (kernel/smpboot.c): one thread per CPU, bound to
// it, that sleeps until thread_should_run() says there is work and then
// calls thread_fn(). ksoftirqd/N is one.
#pragma once

#include <functional>
#include <string>

#include "kernel/kernel.h"

namespace kp {

struct smp_hotplug_thread {
    std::function<task_struct*&(percpu&)> store;  // where the CPU keeps its thread
    std::function<bool(int cpu)> thread_should_run;
    std::function<void(int cpu)> thread_fn;
    std::string thread_comm;  // the CPU number is appended: "ksoftirqd/" -> "ksoftirqd/0"
};

// Create the threads, SCHED_NORMAL, one per CPU. They are created blocked
// and first run when woken: the same as a thread that ran once at boot,
// found nothing to do and slept, without adding switches at time 0.
void smpboot_register_percpu_thread(kernel& k, const smp_hotplug_thread& ht);

}  // namespace kp
