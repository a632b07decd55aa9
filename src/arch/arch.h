// The arch interface: everything the kernel core asks of the machine it runs
// on, roughly what Linux asks of arch/ (clocksource, clockevents, IPIs,
// arch_cpu_idle, switch_to). The core never asks which machine it is on.
#pragma once

#include <cstdint>

#include "kpreempt/time.h"

namespace kp {

struct task_struct;
struct stack_context;

// x86's system vectors (arch/x86/include/asm/irq_vectors.h). Device lines
// are delivered by irq number, below every system vector.
enum class irq_vector : std::uint8_t {
    local_timer = 0xec,
    call_function_single = 0xfb,
    call_function = 0xfc,
    reschedule = 0xfd,
};

// The order in which pending system vectors are taken, highest vector first
// (as x86's local APIC delivers them), and each one's bit in a machine's
// pending mask.
inline constexpr irq_vector vector_order[] = {irq_vector::reschedule, irq_vector::call_function,
                                              irq_vector::call_function_single, irq_vector::local_timer};
inline constexpr std::uint32_t vector_bit(irq_vector v) {
    for (std::uint32_t i = 0; i < 4; ++i)
        if (vector_order[i] == v) return 1u << i;
    return 0;
}

class arch_machine {
public:
    virtual ~arch_machine() = default;

    // clocksource: the current time of the calling CPU.
    virtual nsec_t now() const = 0;
    // clockevents: one one-shot timer per CPU; KTIME_MAX disarms it. It
    // arrives as irq_vector::local_timer on that CPU.
    virtual void set_next_event(int cpu, nsec_t expires) = 0;
    // smp_send_reschedule / call-function IPIs.
    virtual void send_ipi(int cpu, irq_vector v) = 0;
    // CPU work: t ns of the calling CPU's time. Interrupts due meanwhile are
    // taken at their instant if local interrupts are on.
    virtual void burn(nsec_t ns) = 0;
    // arch_cpu_idle: enable interrupts and wait for one (called irqs off).
    virtual void cpu_idle() = 0;
    // Local interrupts were just enabled: take what arrived while masked.
    virtual void replay_masked_irqs() = 0;
    // Spin-wait on a lock word (arm64's wfe) and its wakeup (sev).
    virtual void cpu_wait_event() = 0;
    virtual void cpu_send_event() = 0;
    // The interrupt controller (irq_chip): which CPU a device line is
    // delivered to, and masking. An arrival on a masked line stays pending
    // at the controller and is delivered when the line is unmasked.
    virtual void irq_chip_set_affinity(int irq, int cpu) = 0;
    virtual void irq_chip_mask(int irq) = 0;
    virtual void irq_chip_unmask(int irq) = 0;
    // switch_to: leave prev's stack for next's. Returns in prev's context
    // when something switches back to it. prev_dies: prev never resumes.
    virtual void switch_to(task_struct& prev, task_struct& next, bool prev_dies) = 0;
};

}  // namespace kp
