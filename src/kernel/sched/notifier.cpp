#include "kernel/sched/notifier.h"

#include <algorithm>

#include "kernel/debug/debug.h"
#include "kernel/kernel.h"

namespace kp {

void preempt_notifier_init(preempt_notifier& n, const preempt_ops& ops) { n.ops = &ops; }

void preempt_notifier_inc() { ++this_kernel().preempt_notifier_key; }
void preempt_notifier_dec() { --this_kernel().preempt_notifier_key; }

void preempt_notifier_register(preempt_notifier& n) {
    if (this_kernel().preempt_notifier_key <= 0)
        kernel_warn("kernel/sched/core.c preempt_notifier_register",
                    "registering preempt_notifier while notifiers disabled");
    auto& list = current().preempt_notifiers;
    list.insert(list.begin(), &n);
}

void preempt_notifier_unregister(preempt_notifier& n) {
    auto& list = current().preempt_notifiers;
    list.erase(std::remove(list.begin(), list.end(), &n), list.end());
}

void fire_sched_out_preempt_notifiers(task_struct& prev, task_struct& next) {
    if (prev.k->preempt_notifier_key <= 0) return;
    for (preempt_notifier* n : prev.preempt_notifiers) n->ops->sched_out(n, &next);
}

void fire_sched_in_preempt_notifiers(task_struct& curr) {
    if (curr.k->preempt_notifier_key <= 0) return;
    for (preempt_notifier* n : curr.preempt_notifiers) n->ops->sched_in(n, curr.cpu);
}

}  // namespace kp
