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
    std::size_t stack_size = 256 * 1024;  // per task, plus a guard page
};

}  // namespace kp
