// The scheduler core's entry points (kernel/sched/core.c).
#pragma once

#include <source_location>

#include "kernel/kernel.h"
#include "kpreempt/observer.h"

namespace kp {

// __schedule's modes (spec 5.1).
enum class sched_mode : int { idle = -1, none = 0, preempt = 1 };

void __schedule(sched_mode mode, preempt_point point);
void schedule();
void schedule_point(preempt_point point);  // schedule(), recording why
void schedule_idle();
void schedule_preempt_disabled();
void preempt_schedule_common(preempt_point point);
void preempt_schedule_irq();
int __cond_resched(preempt_point point);
// cond_resched(): the debug check at the caller's line, then the
// preemption point of NONE and VOLUNTARY.
int cond_resched(std::source_location loc = std::source_location::current());
void might_resched();
void schedule_tail(task_struct* prev);
void finish_task_switch(task_struct* prev);
[[noreturn]] void do_task_dead();

void resched_curr(rq& rq);
void resched_cpu(kernel& k, int cpu);
void scheduler_ipi();

void activate_task(rq& rq, task_struct& p, int flags);
void deactivate_task(rq& rq, task_struct& p, int flags);
void set_task_cpu(task_struct& p, int cpu);
// Keep kernel::idle_cpus in step with rq (after rq.curr or rq.nr_running change).
void update_idle_cpu(rq& rq);
// The first CPU of `allowed` that is available_idle_cpu(), scanning
// cyclically from `from` (included); -1 if none.
int find_idle_cpu(kernel& k, const cpumask& allowed, int from);
void wakeup_preempt(rq& rq, task_struct& p, int wake_flags);

int try_to_wake_up(task_struct& p, unsigned state, int wake_flags);
int wake_up_process(task_struct& p);
int wake_up_state(task_struct& p, unsigned state);
void wake_up_new_task(task_struct& p);
int select_task_rq(task_struct& p, int prev_cpu, int wake_flags);

void sched_tick();
void sched_balance_tick(rq& rq);
task_struct* sched_balance_newidle(rq& rq);

// Current task state (with the barrier semantics of set_current_state).
void set_current_state(unsigned state);
void __set_current_state(unsigned state);

// Scheduling parameters.
void sched_set_normal(task_struct& p, int nice);
void sched_set_rt(task_struct& p, sched_policy policy, int rt_priority);
std::uint64_t sched_prio_to_weight(int nice);
void sched_setscheduler(task_struct& p, sched_policy policy, int prio_or_nice);
void set_cpus_allowed_ptr(task_struct& p, const cpumask& mask);
// Move a queued, not running task off a CPU it may no longer use.
void migrate_if_disallowed(task_struct& p);
void do_sched_yield();

inline bool task_current(const rq& rq, const task_struct& p) { return rq.curr == &p; }
inline bool task_on_cpu(const task_struct& p) { return p.on_cpu.load(std::memory_order_acquire) != 0; }

}  // namespace kp
