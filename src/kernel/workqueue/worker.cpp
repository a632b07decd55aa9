// The kworker threads (worker_thread, process_one_work in
// kernel/workqueue.c): one per CPU, bound to it, SCHED_NORMAL nice 0.
#include <cassert>
#include <string>

#include "kernel/debug/debug.h"
#include "kernel/fork.h"
#include "kernel/sched/core.h"
#include "kernel/workqueue/workqueue_internal.h"

namespace kp {

namespace {

// raw_spin_lock_irq / raw_spin_unlock_irq on pool->lock: the worker is a
// task with interrupts on, and drops the lock around each function.
void pool_lock_irq(worker_pool& pool) {
    local_irq_disable();
    raw_spin_lock(pool.lock);
}
void pool_unlock_irq(worker_pool& pool) {
    pool.lock.unlock(this_kernel().arch());
    local_irq_enable();
    preempt_enable();
}

// A function that returns with preemption (or a softirq, hardirq count)
// still disabled leaves the worker atomic; Linux reports it and goes on.
void check_leaked_atomic() {
    if (!in_atomic()) return;
    const task_struct& self = current();
    printk(log_level::err, "BUG: workqueue leaked atomic, lock or RCU: %s[%d]", self.comm.c_str(), self.pid);
    // No lockdep or RCU here, and no symbol for workfn.
    printk(log_level::err, "     preempt=0x%08x lock=0->0 RCU=0->0 workfn=0x0", preempt_count());
}

// Run the first item of the worklist. Called and returns with pool->lock
// held and interrupts off; drops both around the function.
void process_one_work(worker_pool& pool, work_struct& work) {
    assert(smp_processor_id() == pool.cpu);  // bound to its CPU
    pool.worklist.pop_front();
    work.queued = false;
    pool.current_work = &work;
    pool.current_wq = work.wq;
    const bool counted = !work.barrier;
    // current_func: the function may free or reinitialise its own item.
    const work_func_t func = work.func;
    // The last update to the item: from here it may be queued again, by
    // the function itself too.
    work.pool = &pool;
    clear_pending(work);
    pool_unlock_irq(pool);

    func(work);  // `work` may be gone from here on
    check_leaked_atomic();
    // A work item that requeues itself must not hog a CPU under NONE or
    // VOLUNTARY (Linux: a quiescent state for RCU too).
    cond_resched();

    pool_lock_irq(pool);
    pool.current_work = nullptr;
    pool.current_wq = nullptr;
    if (counted) ++pool.nr_executed;
}

// worker_thread: run the worklist to its end, then sleep TASK_IDLE (not
// counted as load) until kick_pool wakes us. The state is set and the idle
// flag raised under pool->lock, the lock the waker holds, so no wakeup is
// lost between them and schedule().
[[noreturn]] void worker_thread(worker_pool& pool) {
    current().flags |= PF_WQ_WORKER;  // set_pf_worker
    for (;;) {
        pool_lock_irq(pool);
        pool.worker_idle = false;  // worker_leave_idle
        while (!pool.worklist.empty()) process_one_work(pool, *pool.worklist.front());
        pool.worker_idle = true;  // worker_enter_idle
        __set_current_state(TASK_IDLE);
        pool_unlock_irq(pool);
        schedule();
    }
}

}  // namespace

// Like ksoftirqd (smpboot.cpp), the workers are created blocked and first
// run when woken by the first item queued to their CPU.
void workqueue_init(kernel& k) {
    for (int cpu = 0; cpu < k.nr_cpus(); ++cpu) {
        worker_pool& pool = k.cpu(cpu).cpu_worker_pool;
        pool.cpu = cpu;
        task_params params;
        params.name = "kworker/" + std::to_string(cpu) + ":0";
        params.percpu_kthread = true;  // bound (kthread_bind_mask), not counted as live
        params.affinity.set(static_cast<std::size_t>(cpu));
        params.cpu = cpu;
        task_struct& p = kernel_clone(k, params, [&pool] { worker_thread(pool); });
        leave_stopped(p);
        pool.worker = &p;
        pool.worker_idle = true;
    }
}

}  // namespace kp
