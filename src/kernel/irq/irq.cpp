#include "kernel/irq/irq.h"

#include <cassert>

#include "kernel/debug/debug.h"
#include "kernel/entry/entry.h"
#include "kernel/kernel.h"
#include "kernel/preempt/preempt.h"
#include "kernel/sched/core.h"
#include "kernel/sched/cputime.h"
#include "kernel/trace/callpath.h"
#include "kernel/trace/tracepoint.h"

namespace kp {

void irq_wake_thread(irq_desc& d);  // manage.cpp

namespace {

// handle_fasteoi_irq + handle_irq_event, for a line's single action. A
// ONESHOT line is masked before the handler and stays masked until its
// thread has run (irq_finalize_oneshot); if no thread was woken it is
// unmasked at once (cond_unmask_eoi_irq).
void handle_irq_event(percpu& pc, irq_desc& d) {
    ++d.count_per_cpu[static_cast<std::size_t>(pc.cpu)];
    if (d.flags & IRQF_ONESHOT) {
        d.oneshot_masked = true;
        pc.k->arch().irq_chip_mask(d.irq);
    }
    sched_observer* obs = pc.k->observer;
    const nsec_t start = pc.k->arch().now();
    if (obs) obs->on_irq_handler(start, pc.cpu, d.irq, true);
    trace_point(trace_event::irq_handler_entry, d.irq);
    const irqreturn ret = d.handler(d.irq);
    trace_point(trace_event::irq_handler_exit, d.irq, static_cast<int>(ret));
    if (!irqs_disabled()) {
        kernel_warn("kernel/irq/handle.c __handle_irq_event_percpu", "irq %d handler enabled interrupts", d.irq);
        local_irq_disable();
    }
    const nsec_t end = pc.k->arch().now();
    d.time_per_cpu[static_cast<std::size_t>(pc.cpu)] += end - start;
    if (obs) obs->on_irq_handler(end, pc.cpu, d.irq, false);
    bool woke = false;
    if (ret == irqreturn::wake_thread) {
        if (d.thread) {
            irq_wake_thread(d);
            woke = true;
        } else if (!d.warned_no_thread) {
            d.warned_no_thread = true;
            kernel_warn("kernel/irq/handle.c warn_no_thread",
                        "IRQ %d device %s returned IRQ_WAKE_THREAD but no thread function available.", d.irq,
                        d.name.c_str());
        }
    } else if (ret == irqreturn::none) {
        ++d.unhandled;
    }
    if (d.oneshot_masked && !woke) {
        d.oneshot_masked = false;
        if (d.depth == 0) pc.k->arch().irq_chip_unmask(d.irq);
    }
}

void dispatch(percpu& pc, irq_source src) {
    if (src.irq >= 0) {
        auto& descs = pc.k->irq_descs;
        if (static_cast<std::size_t>(src.irq) < descs.size() && descs[static_cast<std::size_t>(src.irq)].requested())
            handle_irq_event(pc, descs[static_cast<std::size_t>(src.irq)]);
        return;
    }
    switch (src.vector) {
    case irq_vector::local_timer: hrtimer_interrupt(pc); break;
    case irq_vector::reschedule: scheduler_ipi(); break;
    case irq_vector::call_function:
    case irq_vector::call_function_single: break;
    }
}

// The x86 entry point that handles this interrupt (the frame a kernel
// stack trace shows).
const char* entry_name(irq_source src) {
    if (src.irq >= 0) return "common_interrupt";
    switch (src.vector) {
    case irq_vector::local_timer: return "sysvec_apic_timer_interrupt";
    case irq_vector::reschedule: return "sysvec_reschedule_ipi";
    case irq_vector::call_function: return "sysvec_call_function";
    case irq_vector::call_function_single: return "sysvec_call_function_single";
    }
    return "common_interrupt";
}

// hardirq_stack_inuse for the time on the irq stack (also on unwinding).
class irq_stack_inuse {
public:
    explicit irq_stack_inuse(percpu& pc) : pc_(pc) { pc_.hardirq_stack_inuse = true; }
    ~irq_stack_inuse() { pc_.hardirq_stack_inuse = false; }
    irq_stack_inuse(const irq_stack_inuse&) = delete;
    irq_stack_inuse& operator=(const irq_stack_inuse&) = delete;

private:
    percpu& pc_;
};

}  // namespace

bool on_irq_stack() { return this_cpu().hardirq_stack_inuse; }

void call_on_irqstack_cond(percpu& pc, bool from_user, void (*fn)(void*), void* arg) {
    if (from_user || pc.hardirq_stack_inuse) {
        fn(arg);
        return;
    }
    irq_stack_inuse inuse(pc);
    call_on_stack(pc.current_task->ctx, *pc.hardirq_stack, fn, arg);
}

void handle_arch_irq(irq_source src) {
    assert(irqs_disabled());
    percpu& pc = this_cpu();
    // The hardware masked interrupts; irqentry_enter tells the tracer.
    trace_point(trace_event::irq_disable, reinterpret_cast<std::intptr_t>(&handle_arch_irq), 0);
    const irqentry_state state = irqentry_enter();
    named_shadow_frame frame{entry_name(src)};
    // Between irqentry_enter and irqentry_exit, on the irq stack as x86's
    // run_sysvec_on_irqstack_cond; irqentry_exit and its preemption run
    // back on the task's stack.
    auto on_irqstack = [&] {
        const cpu_bucket saved = account_set(pc, cpu_bucket::irq);
        irq_enter_rcu();
        dispatch(pc, src);
        irq_exit_rcu();  // softirqs at exit run on the same stack
        account_set(this_cpu(), saved);
    };
    call_on_irqstack_cond(pc, state.from_user, on_irqstack);
    irqentry_exit(state);
    trace_point(trace_event::irq_enable, reinterpret_cast<std::intptr_t>(&handle_arch_irq), 0);
}


void cpu_take_interrupt(irq_source src, bool at_user_point) {
    this_cpu_ptr->irqs_off.store(true, std::memory_order_relaxed);
    this_cpu_ptr->irq_at_user_point = at_user_point;
    handle_arch_irq(src);
    this_cpu_ptr->irqs_off.store(false, std::memory_order_relaxed);
}

}  // namespace kp
