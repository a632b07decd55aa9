#include "kernel/irq/nmi.h"

#include <algorithm>
#include <cassert>

#include "kernel/kernel.h"
#include "kernel/preempt/preempt.h"

namespace kp {

void register_nmi_handler(kernel& k, std::string name, std::function<void()> handler) {
    k.nmi_handlers.push_back({std::move(name), std::move(handler)});
}

void unregister_nmi_handler(kernel& k, const std::string& name) {
    std::erase_if(k.nmi_handlers, [&name](const nmi_action& a) { return a.name == name; });
}

void nmi_enter() {
    // The NMI field is 4 bits; the hardware never nests NMIs, so a full
    // field is a bug of the caller (Linux: BUG_ON in __nmi_enter).
    assert(nmi_count(preempt_count()) != NMI_MASK);
    preempt_word_here().add(NMI_OFFSET + HARDIRQ_OFFSET);  // __nmi_enter: untraced
}

void nmi_exit() {
    assert(in_nmi());
    preempt_word_here().sub(NMI_OFFSET + HARDIRQ_OFFSET);
}

// Nothing is accounted to an "nmi" bucket: Linux's irqtime accounting hooks
// irq_enter/irq_exit only, so NMI time lands in whatever the NMI
// interrupted. The per-CPU count and time are kept for the reports.
void exc_nmi() {
    percpu& pc = this_cpu();
    const nsec_t start = pc.k->arch().now();
    nmi_enter();
    ++pc.nmi_count;
    for (const nmi_action& a : pc.k->nmi_handlers) a.handler();
    nmi_exit();
    pc.nmi_time += pc.k->arch().now() - start;
}

}  // namespace kp
