// Preempt notifiers (CONFIG_PREEMPT_NOTIFIERS): per-task hooks fired when the
// task is switched out (rq lock held, irqs off) and back in (unlocked, irqs
// on). Registered at the head, so the most recent fires first.
#pragma once

namespace kp {

struct task_struct;
struct preempt_notifier;

struct preempt_ops {
    void (*sched_in)(preempt_notifier* n, int cpu);
    void (*sched_out)(preempt_notifier* n, task_struct* next);
};

struct preempt_notifier {
    const preempt_ops* ops = nullptr;
};

void preempt_notifier_init(preempt_notifier& n, const preempt_ops& ops);
// The global gate (a static key in Linux), refcounted.
void preempt_notifier_inc();
void preempt_notifier_dec();
// Register / unregister for the current task.
void preempt_notifier_register(preempt_notifier& n);
void preempt_notifier_unregister(preempt_notifier& n);

void fire_sched_out_preempt_notifiers(task_struct& prev, task_struct& next);
void fire_sched_in_preempt_notifiers(task_struct& curr);

}  // namespace kp
