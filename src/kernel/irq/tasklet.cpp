#include "kernel/irq/tasklet.h"

#include <cassert>

#include "kernel/debug/debug.h"
#include "kernel/irq/softirq.h"
#include "kernel/preempt/preempt.h"
#include "kernel/sched/core.h"

namespace kp {

namespace {

bool test_bit(unsigned nr, const std::atomic<unsigned long>& word) { return (word.load() >> nr) & 1ul; }
bool test_and_set_bit(unsigned nr, std::atomic<unsigned long>& word) { return (word.fetch_or(1ul << nr) >> nr) & 1ul; }
bool test_and_clear_bit(unsigned nr, std::atomic<unsigned long>& word) {
    return (word.fetch_and(~(1ul << nr)) >> nr) & 1ul;
}

tasklet_head& tasklet_list(percpu& pc, unsigned nr) {
    return nr == HI_SOFTIRQ ? pc.tasklets.hi_vec : pc.tasklets.vec;
}

// Interrupts off: the list is also appended to from hardirqs.
void tasklet_append(tasklet_head& head, tasklet_struct& t) {
    assert(irqs_disabled());
    t.next = nullptr;
    *head.tail = &t;
    head.tail = &t.next;
}

void __tasklet_schedule_common(tasklet_struct& t, unsigned nr) {
    irq_guard irqs_off;
    tasklet_append(tasklet_list(this_cpu(), nr), t);
    raise_softirq_irqoff(nr);  // from plain task context this wakes ksoftirqd
}

// Clear SCHED just before the callback, so that it may be scheduled again
// from then on, by the callback itself too. Not set means someone else
// cleared it behind the list's back (a bug): warn once, do not run it.
bool tasklet_clear_sched(tasklet_struct& t) {
    if (test_and_clear_bit(TASKLET_STATE_SCHED, t.state)) {
        wake_up_all(t.wait);  // wake_up_var: tasklet_kill may wait for this
        return true;
    }
    tasklet_cpu& once = this_kernel().cpu(0).tasklets;
    if (!once.warned_sched_not_set) {
        once.warned_sched_not_set = true;
        // %pS of the function: no symbols here, so a zero address.
        kernel_warn("kernel/softirq.c tasklet_clear_sched", "tasklet SCHED state not set: %s 0x0",
                    t.use_callback ? "callback" : "func");
    }
    return false;
}

// Run `t` unless it is running on another CPU or disabled; false when it
// has to go back on the list.
bool tasklet_try_run(tasklet_cpu& tc, tasklet_struct& t, unsigned nr) {
    if (!tasklet_trylock(t)) return false;
    if (t.count.load() != 0) {
        tasklet_unlock(t);
        return false;
    }
    if (tasklet_clear_sched(t)) {
        ++(nr == HI_SOFTIRQ ? tc.hi_runs : tc.runs);
        t.callback(t);
    }
    tasklet_unlock(t);
    return true;
}

// tasklet_action_common: take the whole list with interrupts off, then walk
// it with them on. Whatever is put back, or scheduled meanwhile, waits for
// the softirq's next round (it is raised again), never this walk.
void tasklet_action_common(unsigned nr) {
    percpu& pc = this_cpu();  // softirq context: no migration
    tasklet_head& head = tasklet_list(pc, nr);
    tasklet_struct* list = nullptr;
    {
        irq_guard irqs_off;
        list = head.head;
        head.head = nullptr;
        head.tail = &head.head;
    }
    while (list) {
        tasklet_struct& t = *list;
        list = list->next;  // before the callback, which may schedule t again
        if (tasklet_try_run(pc.tasklets, t, nr)) continue;
        irq_guard irqs_off;
        tasklet_append(head, t);
        __raise_softirq_irqoff(nr);
        ++pc.tasklets.requeued;
    }
}

}  // namespace

void tasklet_setup(tasklet_struct& t, std::function<void(tasklet_struct&)> callback) {
    assert(callback);
    t.next = nullptr;
    t.state = 0;
    t.count = 0;
    t.callback = std::move(callback);
    t.use_callback = true;
    t.data = 0;
}

void tasklet_init(tasklet_struct& t, std::function<void(unsigned long)> func, unsigned long data) {
    assert(func);
    tasklet_setup(t, [func = std::move(func)](tasklet_struct& self) { func(self.data); });
    t.use_callback = false;
    t.data = data;
}

void tasklet_schedule(tasklet_struct& t) {
    if (!test_and_set_bit(TASKLET_STATE_SCHED, t.state)) __tasklet_schedule_common(t, TASKLET_SOFTIRQ);
}

void tasklet_hi_schedule(tasklet_struct& t) {
    if (!test_and_set_bit(TASKLET_STATE_SCHED, t.state)) __tasklet_schedule_common(t, HI_SOFTIRQ);
}

bool tasklet_trylock(tasklet_struct& t) { return !test_and_set_bit(TASKLET_STATE_RUN, t.state); }

void tasklet_unlock(tasklet_struct& t) {
    const bool was_running = test_and_clear_bit(TASKLET_STATE_RUN, t.state);
    assert(was_running);
    (void)was_running;
    wake_up_all(t.wait);  // wake_up_var: tasklet_unlock_wait
}

// wait_var_event(&t->state, ...): might_sleep, then the wait.
void tasklet_unlock_wait(tasklet_struct& t, std::source_location loc) {
    __might_sleep(loc);
    might_resched();
    wait_event(t.wait, [&t] { return !test_bit(TASKLET_STATE_RUN, t.state); });
}

void tasklet_disable_nosync(tasklet_struct& t) { t.count.fetch_add(1); }

void tasklet_disable(tasklet_struct& t, std::source_location loc) {
    tasklet_disable_nosync(t);
    tasklet_unlock_wait(t, loc);
}

void tasklet_enable(tasklet_struct& t) {
    const int was = t.count.fetch_sub(1);
    assert(was > 0);
    (void)was;
}

// Own SCHED (waiting while it is queued), so that nobody can queue it
// again, wait for a running callback, then let go of SCHED.
void tasklet_kill(tasklet_struct& t, std::source_location loc) {
    if (in_interrupt()) printk(log_level::notice, "Attempt to kill tasklet from interrupt");
    while (test_and_set_bit(TASKLET_STATE_SCHED, t.state)) {
        __might_sleep(loc);
        might_resched();
        wait_event(t.wait, [&t] { return !test_bit(TASKLET_STATE_SCHED, t.state); });
    }
    tasklet_unlock_wait(t, loc);
    tasklet_clear_sched(t);
}

void init_tasklets(kernel& k) {
    // Linux's actions first run the BH workqueues' items; there are none here.
    open_softirq(k, TASKLET_SOFTIRQ, [] { tasklet_action_common(TASKLET_SOFTIRQ); });
    open_softirq(k, HI_SOFTIRQ, [] { tasklet_action_common(HI_SOFTIRQ); });
}

}  // namespace kp
