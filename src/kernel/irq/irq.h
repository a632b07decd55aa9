// Interrupt dispatch: what the machine calls when it delivers an interrupt
// (x86's common_interrupt / sysvec entry, arch/x86/kernel/irq.c), and the
// device interrupt lines (kernel/irq/manage.c's request_irq, reduced).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "arch/arch.h"

namespace kp {

class kernel;
struct percpu;

enum class irqreturn { none, handled, wake_thread };

struct irq_desc {
    std::string name;
    std::function<irqreturn(int irq)> handler;
    std::vector<std::uint64_t> count_per_cpu;  // /proc/interrupts
};

// What the machine delivers: a system vector or a device line.
struct irq_source {
    irq_vector vector = irq_vector::local_timer;
    int irq = -1;  // >= 0: a device line (vector unused)
};

// Install a handler for a device line (irq numbers from 0).
void request_irq(kernel& k, int irq, std::string name, std::function<irqreturn(int)> handler);
void free_irq(kernel& k, int irq);

// The generic entry for one interrupt on the calling CPU. The machine calls
// it with local interrupts off (as the hardware leaves them), from the
// context of the interrupted task.
void handle_arch_irq(irq_source src);

}  // namespace kp
