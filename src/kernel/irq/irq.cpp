#include "kernel/irq/irq.h"

#include <cassert>

#include "kernel/entry/entry.h"
#include "kernel/preempt/preempt.h"
#include "kernel/sched/core.h"
#include "kernel/sched/cputime.h"

namespace kp {

void request_irq(kernel& k, int irq, std::string name, std::function<irqreturn(int)> handler) {
    auto& descs = k.irq_descs;
    if (descs.size() <= static_cast<std::size_t>(irq)) descs.resize(static_cast<std::size_t>(irq) + 1);
    irq_desc& d = descs[static_cast<std::size_t>(irq)];
    d.name = std::move(name);
    d.handler = std::move(handler);
    d.count_per_cpu.assign(static_cast<std::size_t>(k.nr_cpus()), 0);
}

void free_irq(kernel& k, int irq) {
    if (static_cast<std::size_t>(irq) < k.irq_descs.size()) k.irq_descs[static_cast<std::size_t>(irq)].handler = {};
}

namespace {

void dispatch(percpu& pc, irq_source src) {
    if (src.irq >= 0) {
        auto& descs = pc.k->irq_descs;
        if (static_cast<std::size_t>(src.irq) < descs.size() && descs[static_cast<std::size_t>(src.irq)].handler) {
            irq_desc& d = descs[static_cast<std::size_t>(src.irq)];
            ++d.count_per_cpu[static_cast<std::size_t>(pc.cpu)];
            sched_observer* obs = pc.k->observer;
            if (obs) obs->on_irq_handler(pc.k->arch().now(), pc.cpu, src.irq, true);
            d.handler(src.irq);
            if (obs) obs->on_irq_handler(pc.k->arch().now(), pc.cpu, src.irq, false);
        }
        return;
    }
    switch (src.vector) {
    case irq_vector::local_timer: hrtimer_interrupt(pc); break;
    case irq_vector::reschedule: scheduler_ipi(); break;
    case irq_vector::call_function:
    case irq_vector::call_function_single: break;
    }
}

}  // namespace

void handle_arch_irq(irq_source src) {
    assert(irqs_disabled());
    percpu& pc = this_cpu();
    const irqentry_state state = irqentry_enter();
    const cpu_bucket saved = account_set(pc, cpu_bucket::irq);
    irq_enter_rcu();
    dispatch(pc, src);
    irq_exit_rcu();
    account_set(this_cpu(), saved);
    irqentry_exit(state);
}

}  // namespace kp
