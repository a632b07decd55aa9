// __schedule() and the paths into it.
//
// Every way into __schedule(), one line per preemption model
// (N = none, V = voluntary, F = full; spec 3.3):
//   1. Explicit blocking: a wait, mutex, sleep sets the state and calls
//      schedule().                                          [N V F]
//   2. Return to user mode, from a syscall or an interrupt:
//      exit_to_user_mode_loop() sees TIF_NEED_RESCHED.       [N V F]
//   3. cond_resched() -> __cond_resched().                  [N V]  (F: no-op)
//   4. might_sleep()/might_resched() -> __cond_resched().   [V]
//   5. The outermost preempt_enable() (spin_unlock, ...) finds the folded
//      NEED_RESCHED: preempt_schedule().                    [F]
//   6. Interrupt return to kernel mode with preempt_count 0 and interrupts
//      on: preempt_schedule_irq().                           [F]
//   7. The idle loop: schedule_idle() when work arrives.     [N V F]
// Wakeups and ticks never switch by themselves: they only set
// TIF_NEED_RESCHED (resched_curr) and fold it into the CPU's preempt_count,
// locally or through the reschedule IPI.
#include "kernel/sched/core.h"
#include "kernel/trace/callpath.h"
#include "kernel/trace/tracepoint.h"

#include <cassert>

#include "kernel/debug/debug.h"
#include "kernel/preempt/preempt.h"
#include "kernel/sched/cputime.h"
#include "kernel/sched/notifier.h"
#include "kernel/sched/rq_lock.h"

namespace kp {

namespace {

void put_prev_task(rq& rq, task_struct& prev) { prev.sched_class->put_prev_task(rq, prev); }

task_struct* pick_next_task(rq& rq, task_struct& prev) {
    put_prev_task(rq, prev);
    for (const sched_class* c : {&rt_sched_class, &fair_sched_class}) {
        if (task_struct* p = c->pick_task(rq)) {
            c->set_next_task(rq, *p, true);
            return p;
        }
    }
    // Nothing runnable here: try to pull work from a busy CPU first.
    if (task_struct* p = sched_balance_newidle(rq)) {
        p->sched_class->set_next_task(rq, *p, true);
        return p;
    }
    return rq.idle;
}

bool signal_pending_state(unsigned state, const task_struct& p) {
    if (!(state & (TASK_INTERRUPTIBLE | TASK_WAKEKILL))) return false;
    return p.test_tif(TIF_SIGPENDING);
}

// prepare_task_switch + the mm part of context_switch (spec 5.3).
void switch_mm_bookkeeping(rq& rq, task_struct& prev, task_struct& next) {
    if (!next.mm) {
        // To a kernel thread: borrow prev's address space (lazy TLB).
        next.active_mm = prev.active_mm;
        if (prev.mm) next.active_mm->mm_count.fetch_add(1, std::memory_order_relaxed);  // mmgrab_lazy_tlb
        else prev.active_mm = nullptr;  // kernel -> kernel: hand the reference over
        ++rq.nr_lazy_tlb_switches;
    } else {
        if (prev.active_mm != next.mm) ++rq.nr_mm_switches;  // switch_mm_irqs_off
        next.active_mm = next.mm;
        if (!prev.mm) {
            // From a kernel thread: drop the borrowed mm after the switch.
            rq.prev_mm = prev.active_mm;
            prev.active_mm = nullptr;
        }
    }
}

void context_switch(rq& rq, task_struct& prev, task_struct& next) {
    fire_sched_out_preempt_notifiers(prev, next);
    next.on_cpu.store(1, std::memory_order_relaxed);
    switch_mm_bookkeeping(rq, prev, next);
    rq.switch_prev = &prev;
    const bool prev_dies = prev.state() == TASK_DEAD;
    rq_percpu(rq).current_task = &next;  // switch_to's this_cpu_write(current_task, next)
    rq.k->arch().switch_to(prev, next, prev_dies);
    // Here in next's context (possibly much later, on another CPU: this
    // stack belongs to whichever task was just switched back in).
    finish_task_switch(this_rq().switch_prev);
}

}  // namespace

void finish_task_switch(task_struct* prev) {
    percpu& pc = this_cpu();
    rq& rq = pc.runqueue;
    kernel& k = *pc.k;
    // Exactly the schedule's own disable plus the rq lock.
    if (pc.preempt_count.count() != 2 * PREEMPT_DISABLE_OFFSET) {
        kernel_warn("kernel/sched/core.c finish_task_switch", "corrupted preempt_count: %s/%d/0x%x",
                    current().comm.c_str(), current().pid, pc.preempt_count.count());
        pc.preempt_count.set_count(FORK_PREEMPT_COUNT & ~PREEMPT_NEED_RESCHED);
    }
    mm_struct* mm = rq.prev_mm;
    rq.prev_mm = nullptr;
    const unsigned prev_state = prev->state();
    prev->on_cpu.store(0, std::memory_order_release);
    rq.lock.unlock(k.arch());
    preempt_count_sub(PREEMPT_OFFSET);  // the rq lock's disable, no resched check
    if (k.config().costs.context_switch > 0) k.arch().burn(k.config().costs.context_switch);
    local_irq_enable();
    fire_sched_in_preempt_notifiers(current());
    if (mm) mm->mm_count.fetch_sub(1, std::memory_order_relaxed);  // mmdrop_lazy_tlb
    if (prev_state == TASK_DEAD) k.release_task_stack(*prev);
    else if (prev->on_rq) migrate_if_disallowed(*prev);  // its affinity changed while it ran
}

namespace {

// sched_switch, and kpreempt_preempt for a preemption: an involuntary one,
// or a task leaving at a preemption point (not one that blocked, exited, or
// the idle loop finding work). Behind one gate: with tracing off, a switch
// pays one no-op for both.
[[gnu::cold]] void trace_switch(const task_struct& prev, const task_struct& next, unsigned prev_state, bool preempt,
                                preempt_point point) {
    // prev_state as __trace_sched_switch_state: a preemption reports R+.
    trace_point(trace_event::sched_switch, prev.pid, prev.prio, preempt ? TRACE_STATE_PREEMPTED : prev_state, next.pid,
                next.prio);
    if (preempt || (point != preempt_point::none && point != preempt_point::idle && point != preempt_point::exit))
        trace_point(trace_event::kpreempt_preempt, static_cast<int>(point), static_cast<int>(prev.k->dyn.mode),
                    prev.pid, next.pid);
}

}  // namespace

void __schedule(sched_mode mode, preempt_point point) {
    shadow_frame<"__schedule"> frame;
    percpu& pc = this_cpu();
    rq& rq = pc.runqueue;
    kernel& k = *pc.k;
    task_struct* prev = rq.curr;
    const bool preempt = mode == sched_mode::preempt;

    if (pc.preempt_count.count() != PREEMPT_DISABLE_OFFSET) {  // in_atomic_preempt_off()
        __schedule_bug(*prev);
        pc.preempt_count.set_count(PREEMPT_DISABLE_OFFSET);
    }
    local_irq_disable();
    raw_spin_lock(rq.lock);
    update_rq_clock(rq);

    std::uint64_t* switch_count = &prev->nivcsw;
    const unsigned prev_state = prev->state();
    task_struct* next = nullptr;
    if (mode == sched_mode::idle && rq.nr_running == 0) {
        next = prev;
    } else {
        // A preempted task keeps its place even if its state says "sleeping".
        if (!preempt && prev_state != TASK_RUNNING) {
            if (signal_pending_state(prev_state, *prev)) prev->__state.store(TASK_RUNNING);
            else deactivate_task(rq, *prev, DEQUEUE_SLEEP);
            switch_count = &prev->nvcsw;
        }
        next = pick_next_task(rq, *prev);
    }
    // clear_tsk_need_resched(): both bits in one atomic operation.
    prev->thread_flags.fetch_and(~(1u << TIF_NEED_RESCHED | 1u << TIF_NEED_RESCHED_LAZY), std::memory_order_relaxed);
    pc.preempt_count.clear_need_resched();

    if (prev == next) {
        raw_spin_unlock_no_resched(rq.lock);
        local_irq_enable();
        return;
    }
    ++rq.nr_switches;
    ++*switch_count;
    // The clock read once for this switch (update_rq_clock above): on the
    // host a read is a vDSO call, and a switch would otherwise take three.
    const nsec_t now = rq.clock;
    account_set_at(pc, task_bucket(*next) == cpu_bucket::idle ? cpu_bucket::idle : cpu_bucket::system, now);
    rq.curr = next;
    update_idle_cpu(rq);
    if (next->first_run < 0) next->first_run = now;
    if (k.observer) {
        k.observer->on_switch({now, rq.cpu, prev->pid, prev->comm, prev_state, next->pid, next->comm, preempt,
                               prev_state == TASK_DEAD ? preempt_point::exit : point});
    }
    if (tracepoints_compiled && trace_gate_open()) [[unlikely]]
        trace_switch(*prev, *next, prev_state, preempt, point);
    context_switch(rq, *prev, *next);
    // Back in prev (this task), later: restore its own time bucket.
    account_set(this_cpu(), task_bucket(current()));
}

void schedule_point(preempt_point point) {
    shadow_frame<"schedule"> frame;
    do {
        preempt_disable();
        __schedule(sched_mode::none, point);
        sched_preempt_enable_no_resched();
    } while (need_resched());
}

void schedule() { schedule_point(preempt_point::none); }

void schedule_idle() {
    do {
        __schedule(sched_mode::idle, preempt_point::idle);
    } while (need_resched());
}

void schedule_preempt_disabled() {
    sched_preempt_enable_no_resched();
    schedule();
    preempt_disable();
}

void preempt_schedule_common(preempt_point point) {
    shadow_frame<"preempt_schedule_common"> frame;
    do {
        preempt_count_add(PREEMPT_OFFSET);
        __schedule(sched_mode::preempt, point);
        preempt_count_sub(PREEMPT_OFFSET);
    } while (need_resched());
}

void preempt_schedule() {
    shadow_frame<"preempt_schedule"> frame;
    if (!this_kernel().dyn.preempt_schedule) return;  // static call NOP (none, voluntary)
    if (!preemptible()) return;
    preempt_schedule_common(preempt_point::preempt_enable);
}

void preempt_schedule_irq() {
    shadow_frame<"preempt_schedule_irq"> frame;
    assert(preempt_count() == 0 && irqs_disabled());
    do {
        preempt_disable();
        local_irq_enable();
        __schedule(sched_mode::preempt, preempt_point::irq_exit);
        local_irq_disable();
        sched_preempt_enable_no_resched();
    } while (need_resched());
}

int __cond_resched(preempt_point point) {
    shadow_frame<"__cond_resched"> frame;
    if (preempt_word_here().should_resched(0) && !irqs_disabled()) {
        preempt_schedule_common(point);
        return 1;
    }
    return 0;
}

int cond_resched(std::source_location loc) {
    __might_resched(loc, 0);
    return this_kernel().dyn.cond_resched ? __cond_resched(preempt_point::cond_resched) : 0;
}

void might_resched() {
    if (this_kernel().dyn.might_resched) __cond_resched(preempt_point::might_resched);
}

void schedule_tail(task_struct* prev) {
    finish_task_switch(prev);
    preempt_enable();
}

void do_task_dead() {
    shadow_frame<"do_task_dead"> frame;
    trace_point(trace_event::sched_process_exit, current().pid, current().prio);
    __set_current_state(TASK_DEAD);
    if (current().counts_as_live) this_kernel().task_exited();
    preempt_disable();
    __schedule(sched_mode::none, preempt_point::exit);
    assert(false && "a dead task was scheduled again");
    __builtin_unreachable();
}

void resched_curr(rq& rq) {
    shadow_frame<"resched_curr"> frame;
    task_struct* curr = rq.curr;
    if (curr->test_tif(TIF_NEED_RESCHED)) return;
    if (rq.cpu == smp_processor_id()) {
        curr->set_tif(TIF_NEED_RESCHED);
        preempt_word_here().set_need_resched();
        return;
    }
    // Remote: set the bit, then kick the CPU so that it folds it. Our idle
    // loop does not poll, so the IPI is always sent.
    curr->set_tif(TIF_NEED_RESCHED);
    trace_point(*rq.k, trace_event::ipi_send_cpu, rq.cpu, static_cast<int>(irq_vector::reschedule));
    rq.k->arch().send_ipi(rq.cpu, irq_vector::reschedule);
}

void resched_cpu(kernel& k, int cpu) {
    rq& rq = cpu_rq(k, cpu);
    rq_guard g{rq};
    resched_curr(rq);
}

void scheduler_ipi() {
    shadow_frame<"scheduler_ipi"> frame;
    // preempt_fold_need_resched
    if (need_resched()) preempt_word_here().set_need_resched();
}

void set_current_state(unsigned state) {
    current().__state.store(state, std::memory_order_seq_cst);  // pairs with ttwu's barrier
}
void __set_current_state(unsigned state) { current().__state.store(state, std::memory_order_relaxed); }

}  // namespace kp
