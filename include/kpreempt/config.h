// What a machine is built with: CPUs, HZ, the preemption model, the costs.
#pragma once

#include <cstddef>

#include "kpreempt/time.h"

namespace kp {

// The preemption models (CONFIG_PREEMPT_NONE / _VOLUNTARY / CONFIG_PREEMPT).
enum class preempt_mode { none, voluntary, full };

// Virtual time charged for the kernel's own work. All zero by default, so
// that a scenario's times are exactly the work its tasks do.
struct cost_model {
    nsec_t context_switch = 0;  // charged inside context_switch, irqs off
    nsec_t irq_entry = 0;       // charged at irq_enter, irqs off
    nsec_t irq_exit = 0;        // charged at irq_exit, irqs off
    nsec_t tick = 0;            // the tick handler's own work
    nsec_t ipi_latency = 0;     // from send to arrival
};

struct kernel_config {
    int nr_cpus = 1;  // 1 to 256
    int hz = 1000;    // 100, 250, 300 or 1000
    preempt_mode model = preempt_mode::full;
    cost_model costs;
    // threadirqs: device handlers run in their irq threads (forced
    // threading), and softirqs left at irq exit go to ksoftirqd.
    bool threadirqs = false;
    // Linux 4.9 to 6.4 ("softirq: Let ksoftirqd do its job", reverted in
    // 6.5): while ksoftirqd is runnable, irq exit and do_softirq() leave
    // every softirq but HI and TASKLET to it. Off: 6.12's behaviour.
    bool ksoftirqd_defer = false;
    std::size_t stack_size = 256 * 1024;  // per task, plus a guard page
    // EEVDF's base slice (sysctl_sched_base_slice, debugfs base_slice_ns);
    // 0: Linux's default, 0.7 ms x (1 + ilog2(min(CPUs, 8))).
    nsec_t base_slice = 0;
};

}  // namespace kp
