// Queueing, cancelling and flushing work items. The kworker side is in
// worker.cpp.
#include <algorithm>
#include <cassert>
#include <iterator>

#include "kernel/debug/debug.h"
#include "kernel/locking/wait.h"
#include "kernel/sched/core.h"
#include "kernel/workqueue/workqueue_internal.h"

namespace kp {

namespace {

workqueue_struct system_wq_struct{"events"};

// A CPU's pool for `work`, or, if the item is still running on the pool it
// last ran on (for the same workqueue), that one: it must queue behind
// itself there, not run beside itself here.
worker_pool& pool_for(int cpu, const workqueue_struct* wq, work_struct& work) {
    worker_pool& pool = this_kernel().cpu(cpu).cpu_worker_pool;
    worker_pool* last = work.pool;
    if (!last || last == &pool) return pool;
    pool_guard g{*last};
    return last->current_work == &work && last->current_wq == wq ? *last : pool;
}

// Wake the worker if it sleeps waiting for work. A worker busy with an item
// (running, or asleep inside its function) finds the new one when it is
// done: there is no second worker to wake (worker_pool.h).
void kick_pool(worker_pool& pool) {
    if (pool.worker_idle && !pool.worklist.empty()) wake_up_process(*pool.worker);
}

// The caller owns PENDING; interrupts are off.
void __queue_work(int cpu, const workqueue_struct* wq, work_struct& work) {
    assert(irqs_disabled());
    if (cpu == WORK_CPU_UNBOUND) cpu = smp_processor_id();  // a per-CPU workqueue: this CPU
    worker_pool& pool = pool_for(cpu, wq, work);
    pool_guard g{pool};
    if (work.queued) {
        kernel_warn("kernel/workqueue.c __queue_work", "WARN_ON(!list_empty(&work->entry))");
        return;
    }
    pool.worklist.push_back(&work);  // insert_work
    work.queued = true;
    work.pool = &pool;
    work.wq = wq;
    kick_pool(pool);
}

// The timer's callback. Linux's delayed-work timers are irqsafe (the
// callback runs with interrupts off); ours run with them on, so turn them off.
void delayed_work_timer_fn(delayed_work& dwork) {
    irq_guard irqs_off;
    __queue_work(dwork.cpu, dwork.wq, dwork.work);
}

// The caller owns PENDING; interrupts are off. A zero delay queues at once:
// the earliest a timer could fire is the next tick.
void __queue_delayed_work(int cpu, workqueue_struct* wq, delayed_work& dwork, unsigned long delay) {
    assert(dwork.timer.cpu < 0 && !dwork.work.queued);
    if (!delay) {
        __queue_work(cpu, wq, dwork.work);
        return;
    }
    dwork.wq = wq;
    dwork.cpu = cpu;
    dwork.timer.expires = get_jiffies() + delay;
    // On this CPU, even for a given `cpu` (Linux: add_timer_on(cpu));
    // the item still goes to `cpu` when it fires (docs/differences.md).
    add_timer(dwork.timer);
}

// Take PENDING away from a pending item: 1 if it was pending (its timer
// stopped, or taken off its worklist) and PENDING is now ours, 0 if it was
// idle and PENDING is now ours. Interrupts are off. Linux can also find
// PENDING set with the item off every queue (a queueing under way on
// another CPU) and busy-retries; that cannot be seen on the simulated
// machine, where queueing runs without a break and irqs off.
int try_to_grab_pending(work_struct& work, delayed_work* dwork) {
    if (dwork && del_timer_sync(dwork->timer)) return 1;  // del_timer (ours never waits)
    if (!test_and_set_pending(work)) return 0;
    worker_pool* pool = work.pool;
    assert(pool && work.queued);
    if (!pool) return 1;
    pool_guard g{*pool};
    if (work.queued && work.pool == pool) {
        pool->worklist.erase(std::find(pool->worklist.begin(), pool->worklist.end(), &work));
        work.queued = false;
    }
    return 1;
}

bool __cancel_work(work_struct& work, delayed_work* dwork) {
    irq_guard irqs_off;
    const int ret = try_to_grab_pending(work, dwork);
    clear_pending(work);  // set_work_pool_and_clear_pending
    return ret != 0;
}

// flush_work's marker: queued right behind the item (or first, if the item
// is running), it completes when the worker reaches it.
struct wq_barrier {
    work_struct work;
    completion done;
};

bool start_flush_work(work_struct& work, wq_barrier& barr) {
    worker_pool* pool = work.pool;
    if (!pool) return false;
    pool_guard g{*pool};
    auto& list = pool->worklist;
    std::list<work_struct*>::iterator at;
    if (work.queued) {
        if (work.pool != pool) return false;  // moved meanwhile: already gone from here
        at = std::next(std::find(list.begin(), list.end(), &work));
    } else if (pool->current_work == &work) {
        at = list.begin();  // right after the running instance (worker->scheduled)
    } else {
        return false;
    }
    INIT_WORK(barr.work, [&barr](work_struct&) { complete(barr.done); });
    barr.work.barrier = true;
    test_and_set_pending(barr.work);
    list.insert(at, &barr.work);
    barr.work.queued = true;
    barr.work.pool = pool;
    barr.work.wq = work.wq;
    return true;
}

}  // namespace

workqueue_struct* const system_wq = &system_wq_struct;

void INIT_WORK(work_struct& work, work_func_t func) {
    assert(!work.queued);
    work.data = 0;
    work.func = std::move(func);
    work.pool = nullptr;
    work.wq = nullptr;
    work.barrier = false;
}

void INIT_DELAYED_WORK(delayed_work& dwork, work_func_t func) {
    INIT_WORK(dwork.work, std::move(func));
    dwork.timer = timer_list{};
    dwork.timer.function = [&dwork](timer_list&) { delayed_work_timer_fn(dwork); };
    dwork.wq = nullptr;
    dwork.cpu = WORK_CPU_UNBOUND;
}

bool work_pending(const work_struct& work) { return work.data.load() & (1ul << WORK_STRUCT_PENDING_BIT); }
bool delayed_work_pending(const delayed_work& dwork) { return work_pending(dwork.work); }
bool current_is_workqueue_worker() { return current().flags & PF_WQ_WORKER; }

bool queue_work_on(int cpu, workqueue_struct* wq, work_struct& work) {
    assert(wq && (cpu == WORK_CPU_UNBOUND || (cpu >= 0 && cpu < this_kernel().nr_cpus())));
    irq_guard irqs_off;  // PENDING and queueing change together (see try_to_grab_pending)
    if (test_and_set_pending(work)) return false;
    __queue_work(cpu, wq, work);
    return true;
}

bool queue_work(workqueue_struct* wq, work_struct& work) { return queue_work_on(WORK_CPU_UNBOUND, wq, work); }
bool schedule_work(work_struct& work) { return queue_work(system_wq, work); }
bool schedule_work_on(int cpu, work_struct& work) { return queue_work_on(cpu, system_wq, work); }

bool queue_delayed_work_on(int cpu, workqueue_struct* wq, delayed_work& dwork, unsigned long delay) {
    assert(wq && (cpu == WORK_CPU_UNBOUND || (cpu >= 0 && cpu < this_kernel().nr_cpus())));
    irq_guard irqs_off;
    if (test_and_set_pending(dwork.work)) return false;
    __queue_delayed_work(cpu, wq, dwork, delay);
    return true;
}

bool queue_delayed_work(workqueue_struct* wq, delayed_work& dwork, unsigned long delay) {
    return queue_delayed_work_on(WORK_CPU_UNBOUND, wq, dwork, delay);
}
bool schedule_delayed_work(delayed_work& dwork, unsigned long delay) {
    return queue_delayed_work(system_wq, dwork, delay);
}
bool schedule_delayed_work_on(int cpu, delayed_work& dwork, unsigned long delay) {
    return queue_delayed_work_on(cpu, system_wq, dwork, delay);
}

bool cancel_work(work_struct& work) { return __cancel_work(work, nullptr); }
bool cancel_delayed_work(delayed_work& dwork) { return __cancel_work(dwork.work, &dwork); }

bool flush_work(work_struct& work, std::source_location loc) {
    __might_sleep(loc);  // might_sleep()
    might_resched();
    wq_barrier barr;
    if (!start_flush_work(work, barr)) return false;
    wait_for_completion(barr.done, loc);
    return true;
}

bool flush_delayed_work(delayed_work& dwork, std::source_location loc) {
    {
        irq_guard irqs_off;
        if (del_timer_sync(dwork.timer)) __queue_work(dwork.cpu, dwork.wq, dwork.work);
    }
    return flush_work(dwork.work, loc);
}

}  // namespace kp
