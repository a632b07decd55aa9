// Non-maskable interrupts (arch/x86/kernel/nmi.c, include/linux/hardirq.h).
// An NMI is taken even with interrupts off and inside a hardirq handler; it
// does not nest in another NMI (the CPU blocks NMIs until the NMI's iret).
// nmi_enter() adds NMI_OFFSET + HARDIRQ_OFFSET, so in_nmi() and
// in_hardirq() are both true inside. No softirq processing and no
// preemption at NMI exit: the interrupted context continues as it was.
#pragma once

#include <functional>
#include <string>

namespace kp {

class kernel;

// register_nmi_handler(NMI_LOCAL, ...): every handler runs on every NMI.
struct nmi_action {
    std::string name;
    std::function<void()> handler;
};

void register_nmi_handler(kernel& k, std::string name, std::function<void()> handler);
void unregister_nmi_handler(kernel& k, const std::string& name);

// nmi_enter / nmi_exit (__nmi_enter: BUG if the NMI field is already full).
void nmi_enter();
void nmi_exit();

// exc_nmi: what the machine calls to deliver an NMI on the calling CPU.
void exc_nmi();

}  // namespace kp
