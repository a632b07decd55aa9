#include "kernel/sched/cputime.h"

namespace kp {

void account_flush(percpu& pc) {
    const nsec_t now = pc.k->arch().now();
    const nsec_t delta = now - pc.acct.last;
    if (delta <= 0) return;
    pc.acct.last = now;
    pc.acct.bucket[static_cast<int>(pc.acct.cur)] += delta;
    task_struct* curr = pc.runqueue.curr;
    if (pc.acct.cur == cpu_bucket::user) curr->utime += delta;
    else if (pc.acct.cur == cpu_bucket::system) curr->stime += delta;
    else if (pc.acct.cur == cpu_bucket::softirq && curr == pc.softirq.ksoftirqd) {
        curr->stime += delta;  // ksoftirqd's softirq time is its own (irqtime_account_irq)
        pc.acct.ksoftirqd += delta;
    }
}

cpu_bucket account_set(percpu& pc, cpu_bucket b) {
    account_flush(pc);
    const cpu_bucket prev = pc.acct.cur;
    pc.acct.cur = b;
    return prev;
}

nsec_t irq_time_now(percpu& pc, nsec_t now) {
    nsec_t t = pc.acct.irq_total();
    const bool irq_time = pc.acct.cur == cpu_bucket::irq ||
                          (pc.acct.cur == cpu_bucket::softirq && pc.runqueue.curr != pc.softirq.ksoftirqd);
    if (irq_time) t += now - pc.acct.last;
    return t;
}

}  // namespace kp
