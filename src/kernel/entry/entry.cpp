#include "kernel/entry/entry.h"

#include <utility>
#include "kernel/trace/callpath.h"

#include <cassert>

#include "kernel/irq/softirq.h"
#include "kernel/preempt/preempt.h"
#include "kernel/sched/core.h"
#include "kernel/sched/cputime.h"
#include "kernel/signal.h"

namespace kp {

namespace {

// exit_to_user_mode_loop: the return-to-user preemption point, live in
// every model (both NEED_RESCHED bits count here). Called irqs off.
void exit_to_user_mode_prepare() {
    shadow_frame<"exit_to_user_mode_prepare"> frame;
    for (;;) {
        task_struct& t = current();
        const bool resched = t.test_tif(TIF_NEED_RESCHED) || t.test_tif(TIF_NEED_RESCHED_LAZY);
        const bool sigpending = t.test_tif(TIF_SIGPENDING);
        if (!resched && !sigpending) return;
        local_irq_enable();
        if (resched) schedule_point(preempt_point::return_to_user);
        if (sigpending) flush_signals(t);  // arch_do_signal_or_restart: no handlers here
        local_irq_disable();
    }
}

void enter_kernel_mode(task_struct& t) {
    t.in_kernel_mode = true;
    account_set(this_cpu(), cpu_bucket::system);
}

void exit_to_user_mode(task_struct& t) {
    t.in_kernel_mode = false;
    account_set(this_cpu(), cpu_bucket::user);
}

}  // namespace

void syscall_enter_from_user_mode() { enter_kernel_mode(current()); }

void syscall_exit_to_user_mode() {
    shadow_frame<"syscall_exit_to_user_mode"> frame;
    local_irq_disable();
    exit_to_user_mode_prepare();
    exit_to_user_mode(current());
    local_irq_enable();
}

syscall_section::syscall_section() : entered_(!current().is_kthread() && !current().in_kernel_mode) {
    if (entered_) syscall_enter_from_user_mode();
}

syscall_section::~syscall_section() {
    if (entered_) syscall_exit_to_user_mode();
}

irqentry_state irqentry_enter() {
    task_struct& t = current();
    irqentry_state state;
    // From user mode: taken where the task's own code ran, the task is not
    // in kernel mode, and nothing holds the CPU in an atomic context (user
    // code runs with preempt_count 0; a task that disabled preemption or is
    // inside an interrupt is in the kernel, whatever its mode flag).
    const bool user_point = std::exchange(this_cpu().irq_at_user_point, false);
    state.from_user = user_point && !t.in_kernel_mode && !t.is_kthread() && !t.is_idle() && preempt_count() == 0;
    if (state.from_user) t.in_kernel_mode = true;
    return state;
}

// The preemption decision of an interrupt return (irqentry_exit). Called
// with irqs off; the interrupted context had them on (else no delivery).
void irqentry_exit(irqentry_state state) {
    shadow_frame<"irqentry_exit"> frame;
    assert(irqs_disabled());
    if (state.from_user) {
        exit_to_user_mode_prepare();
        exit_to_user_mode(current());
        return;
    }
    if (!this_kernel().dyn.irqentry_exit_cond_resched) return;  // NONE, VOLUNTARY
    // raw_irqentry_exit_cond_resched
    if (preempt_count() == 0 && need_resched()) preempt_schedule_irq();
}

void irq_enter_rcu() {
    percpu& pc = this_cpu();
    preempt_word_here().add(HARDIRQ_OFFSET);  // __irq_enter_raw: untraced
    if (pc.k->config().costs.irq_entry > 0) pc.k->arch().burn(pc.k->config().costs.irq_entry);
}

void irq_exit_rcu() {
    shadow_frame<"irq_exit_rcu"> frame;
    percpu& pc = this_cpu();
    if (pc.k->config().costs.irq_exit > 0) pc.k->arch().burn(pc.k->config().costs.irq_exit);
    preempt_word_here().sub(HARDIRQ_OFFSET);  // untraced, as Linux's __preempt_count_sub
    // Only the outermost interrupt, outside softirq processing and bh-disabled
    // sections, serves softirqs: the others leave them to the exit of that
    // context. On the stack the handler used, with irqs off, and
    // before irqentry_exit's preemption decision.
    if (!in_interrupt() && local_softirq_pending()) invoke_softirq();
}

}  // namespace kp
