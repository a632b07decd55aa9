#include "kernel/irq/softirq.h"
#include "kernel/trace/callpath.h"

#include <bit>
#include <cassert>

#include "kernel/debug/debug.h"
#include "kernel/irq/bottom_half.h"
#include "kernel/sched/core.h"
#include "kernel/sched/cputime.h"
#include "kernel/smpboot.h"
#include "kernel/time/timer.h"
#include "kernel/trace/tracepoint.h"

namespace kp {

void open_softirq(kernel& k, unsigned nr, softirq_action action) {
    assert(nr < NR_SOFTIRQS);
    k.softirq_vec[nr] = std::move(action);
}

std::uint32_t local_softirq_pending() { return this_cpu().softirq.pending; }

namespace {

// Leftovers go to the CPU's thread, which then competes as an ordinary
// SCHED_NORMAL task (wakeup_softirqd). Interrupts are off.
void wakeup_softirqd(percpu& pc) {
    if (pc.softirq.ksoftirqd) wake_up_process(*pc.softirq.ksoftirqd);
}

// Run one vector's handler and charge it: the count (kstat_incr_softirqs),
// and the softirq time it took, without the hardirqs nested in it.
void run_softirq_action(percpu& pc, unsigned nr) {
    ++pc.softirq.count[nr];
    const std::uint32_t prev_count = preempt_count();
    account_flush(pc);
    const nsec_t before = pc.acct.bucket[static_cast<int>(cpu_bucket::softirq)];
    trace_point(trace_event::softirq_entry, nr);
    if (const softirq_action& action = pc.k->softirq_vec[nr]) action();
    trace_point(trace_event::softirq_exit, nr);
    account_flush(pc);  // preemption is off: still this CPU
    pc.softirq.time[nr] += pc.acct.bucket[static_cast<int>(cpu_bucket::softirq)] - before;
    if (prev_count != preempt_count()) {
        printk(log_level::err, "huh, entered softirq %u %s with preempt_count %08x, exited with %08x?", nr,
               softirq_to_name[nr], prev_count, preempt_count());
        preempt_word_here().set_count(prev_count);
    }
}

// One round: clear the mask, then, with interrupts on, run every vector that
// was pending at the start, lowest first. What is raised meanwhile (by a
// handler or a nested hardirq) waits for the next round: no nesting, since
// SOFTIRQ_OFFSET makes in_interrupt() true for every irq exit in between.
void softirq_round(percpu& pc, std::uint32_t pending) {
    pc.softirq.pending = 0;
    local_irq_enable();
    while (pending) {
        const auto nr = static_cast<unsigned>(std::countr_zero(pending));
        pending &= pending - 1;
        run_softirq_action(pc, nr);
    }
    local_irq_disable();
}

// handle_softirqs (__do_softirq). Called with interrupts off; returns with
// them off. Rounds continue while something is pending, jiffies are before
// the start + MAX_SOFTIRQ_TIME, no reschedule is wanted and fewer than
// MAX_SOFTIRQ_RESTART rounds ran; then ksoftirqd takes over.
void handle_softirqs(bool /*ksirqd: RCU quiescent state, not modelled*/) {
    shadow_frame<"handle_softirqs"> frame;
    assert(irqs_disabled());
    percpu& pc = this_cpu();  // SOFTIRQ_OFFSET keeps us here until the end
    const std::uint64_t end = get_jiffies() + msecs_to_jiffies(MAX_SOFTIRQ_TIME_MSECS);
    int max_restart = MAX_SOFTIRQ_RESTART;
    std::uint32_t pending = pc.softirq.pending;

    preempt_count_add(SOFTIRQ_OFFSET);  // softirq_handle_begin
    const cpu_bucket saved = account_set(pc, cpu_bucket::softirq);
    for (;;) {
        softirq_round(pc, pending);
        pending = pc.softirq.pending;
        if (!pending) break;
        const bool time_left = static_cast<std::int64_t>(get_jiffies() - end) < 0;  // time_before
        const bool resched = need_resched();
        if (time_left && !resched && --max_restart) continue;
        if (resched) ++pc.softirq.resched_ended;
        else if (!time_left) ++pc.softirq.time_exhausted;
        else ++pc.softirq.restarts_exhausted;
        wakeup_softirqd(pc);
        break;
    }
    account_set(pc, saved);
    preempt_count_sub(SOFTIRQ_OFFSET);  // softirq_handle_end
    if (in_interrupt()) kernel_warn("kernel/softirq.c softirq_handle_end", "WARN_ON_ONCE(in_interrupt())");
}

// ksoftirqd_running (kernel_config::ksoftirqd_defer only): ksoftirqd is
// runnable and will get to it; HI and TASKLET (SOFTIRQ_NOW_MASK) are
// served at once all the same.
bool ksoftirqd_running(percpu& pc, std::uint32_t pending) {
    constexpr std::uint32_t SOFTIRQ_NOW_MASK = (1u << HI_SOFTIRQ) | (1u << TASKLET_SOFTIRQ);
    if (!pc.k->config().ksoftirqd_defer || (pending & SOFTIRQ_NOW_MASK)) return false;
    const task_struct* t = pc.softirq.ksoftirqd;
    return t && t->state() == TASK_RUNNING;
}

// run_ksoftirqd: interrupts off around the processing, then a voluntary
// preemption point between rounds of work.
void run_ksoftirqd(int /*cpu*/) {
    shadow_frame<"run_ksoftirqd"> frame;
    local_irq_disable();
    if (local_softirq_pending()) {
        handle_softirqs(true);
        local_irq_enable();
        cond_resched();
        return;
    }
    local_irq_enable();
}

}  // namespace

void __raise_softirq_irqoff(unsigned nr) {
    assert(irqs_disabled() && nr < NR_SOFTIRQS);
    trace_point(trace_event::softirq_raise, nr);
    this_cpu().softirq.pending |= 1u << nr;
}

void raise_softirq_irqoff(unsigned nr) {
    __raise_softirq_irqoff(nr);
    // In an interrupt, a softirq or a bh-disabled section the pending bit is
    // picked up on the way out; plain task context has no such exit.
    if (!in_interrupt()) wakeup_softirqd(this_cpu());
}

void raise_softirq(unsigned nr) {
    irq_guard irqs_off;
    raise_softirq_irqoff(nr);
}

void do_softirq() {
    shadow_frame<"do_softirq"> frame;
    if (in_interrupt()) return;
    irq_guard irqs_off;
    if (ksoftirqd_running(this_cpu(), local_softirq_pending())) return;
    // do_softirq_own_stack: on the irq stack (never in use here, since
    // do_softirq does nothing in interrupt context).
    if (local_softirq_pending()) {
        auto serve = [] { handle_softirqs(false); };
        call_on_irqstack_cond(this_cpu(), false, serve);
    }
}

// 6.12: served right here (x86-64 is already on the irq stack) unless
// interrupts are force-threaded, which leaves them to ksoftirqd.
void invoke_softirq() {
    percpu& pc = this_cpu();
    if (ksoftirqd_running(pc, pc.softirq.pending)) return;
    if (!pc.k->force_irqthreads() || !pc.softirq.ksoftirqd) handle_softirqs(false);
    else wakeup_softirqd(pc);
}

void local_bh_disable() { preempt_count_add(SOFTIRQ_DISABLE_OFFSET); }

void _local_bh_enable() {
    if (in_hardirq()) kernel_warn("kernel/softirq.c _local_bh_enable", "WARN_ON_ONCE(in_hardirq())");
    preempt_count_sub(SOFTIRQ_DISABLE_OFFSET);
}

// __local_bh_enable_ip: keep preemption disabled (count - 1 of the offset)
// while serving, so that the serving cannot be preempted, and only then
// drop the last count and check for a reschedule.
void local_bh_enable() {
    shadow_frame<"__local_bh_enable_ip"> frame;
    if (in_hardirq()) kernel_warn("kernel/softirq.c __local_bh_enable_ip", "WARN_ON_ONCE(in_hardirq())");
    preempt_count_sub(SOFTIRQ_DISABLE_OFFSET - 1);
    if (!in_interrupt() && local_softirq_pending()) do_softirq();
    preempt_count_sub(PREEMPT_OFFSET);  // preempt_count_dec: no resched check yet
    preempt_check_resched();
}

void spawn_ksoftirqd(kernel& k) {
    smp_hotplug_thread ht;
    ht.store = [](percpu& pc) -> task_struct*& { return pc.softirq.ksoftirqd; };
    ht.thread_should_run = [](int) { return local_softirq_pending() != 0; };
    ht.thread_fn = run_ksoftirqd;
    ht.thread_comm = "ksoftirqd/";
    smpboot_register_percpu_thread(k, ht);
}

}  // namespace kp
