// Kernel entry and exit (kernel/entry/common.c): syscalls and interrupts.
// A task runs in user mode except inside a syscall section; every return to
// user mode passes exit_to_user_mode_loop, every interrupt return to kernel
// mode passes irqentry_exit's preemption check.
#pragma once

namespace kp {

void syscall_enter_from_user_mode();
void syscall_exit_to_user_mode();

struct irqentry_state {
    bool from_user = false;
};

irqentry_state irqentry_enter();
void irqentry_exit(irqentry_state state);
void irq_enter_rcu();
void irq_exit_rcu();

// RAII syscall section: enter on construction, exit (with its preemption
// point) on destruction. Kernel threads are always in kernel mode: a
// section there does nothing.
class [[nodiscard]] syscall_section {
public:
    syscall_section();
    ~syscall_section();
    syscall_section(const syscall_section&) = delete;
    syscall_section& operator=(const syscall_section&) = delete;

private:
    bool entered_;
};

}  // namespace kp
