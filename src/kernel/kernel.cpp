#include "kernel/kernel.h"

#include <algorithm>
#include <stdexcept>

#include "kernel/fork.h"
#include "kernel/irq/softirq.h"
#include "kernel/irq/tasklet.h"
#include "kernel/sched/core.h"
#include "kernel/sched/cputime.h"
#include "kernel/time/timer.h"
#include "kernel/workqueue/workqueue.h"

namespace kp {

kernel::kernel(const kernel_config& cfg, arch_machine& arch) : cfg_(cfg), arch_(arch) {
    if (cfg.nr_cpus < 1 || cfg.nr_cpus > NR_CPUS)
        throw std::invalid_argument("nr_cpus must be 1 to " + std::to_string(NR_CPUS));
    if (cfg.hz < 1 || cfg.hz > 10000) throw std::invalid_argument("hz must be 1 to 10000");
    tick_nsec_ = (NSEC_PER_SEC + cfg.hz / 2) / cfg.hz;  // TICK_NSEC
    dyn = preempt_dynamic_for(cfg.model);
    jiffies.store(initial_jiffies(cfg.hz));
    init_mm.owner = "init_mm";
    for (int c = 0; c < cfg.nr_cpus; ++c) {
        auto pc = std::make_unique<percpu>();
        pc->k = this;
        pc->cpu = c;
        pc->runqueue.k = this;
        pc->runqueue.cpu = c;
        pc->hardirq_stack = std::make_unique<task_stack>(IRQ_STACK_SIZE, stack_owner{.kind = stack_kind::irq, .cpu = c});
        cpus_.push_back(std::move(pc));
    }
    for (int c = 0; c < cfg.nr_cpus; ++c) {
        percpu& pc = *cpus_[static_cast<std::size_t>(c)];
        pc.idle = &fork_idle(*this, c);
        pc.runqueue.idle = pc.runqueue.curr = pc.current_task = pc.idle;
        pc.online = true;
        update_idle_cpu(pc.runqueue);
    }
    // Early initcalls: the kernel's own threads take the first pids, as in
    // Linux, before any task of the workload.
    init_timers(*this);
    init_tasklets(*this);
    spawn_ksoftirqd(*this);
    workqueue_init(*this);  // kworker/N:0, right after ksoftirqd/N
}

kernel::~kernel() {
    // Tasks that never exited are dropped here with their frames, unwound by
    // nobody (see task_stack::forget_frames and docs). A CPU stopped on its
    // irq stack leaves its task's newest frames there (from ctx.sp up), its
    // older ones on the task's stack (from ctx.outer_sp up).
    for (auto& pc : cpus_)
        if (pc->hardirq_stack_inuse && pc->current_task) pc->hardirq_stack->forget_frames(pc->current_task->ctx.sp);
    for (auto& t : tasks_)
        if (t->stack) t->stack->forget_frames(t->ctx.outer_sp ? t->ctx.outer_sp : t->ctx.sp);
}

// The task list may grow while a host machine's vCPUs run (kernel_clone
// from a task) and be searched from every vCPU (find_task): tasks_lock_.
task_struct& kernel::alloc_task(const std::string& comm, bool idle) {
    const std::lock_guard hold(tasks_lock_);
    auto t = std::make_unique<task_struct>();
    t->k = this;
    t->pid = idle ? 0 : next_pid_++;  // every CPU's idle task is pid 0, as in Linux
    t->comm = comm.substr(0, 15);               // TASK_COMM_LEN - 1
    tasks_.push_back(std::move(t));
    return *tasks_.back();
}

mm_struct& kernel::alloc_mm(const std::string& owner) {
    const std::lock_guard hold(tasks_lock_);
    auto mm = std::make_unique<mm_struct>();
    mm->owner = owner;
    mms_.push_back(std::move(mm));
    return *mms_.back();
}

task_struct* kernel::find_task(int pid) {
    const std::lock_guard hold(tasks_lock_);
    for (auto& t : tasks_)
        if (t->pid == pid && !t->is_idle()) return t.get();
    return nullptr;
}

void kernel::release_task_stack(task_struct& p) { p.stack.reset(); }

void kernel::sync_accounting() {
    for (auto& pc : cpus_) account_flush(*pc);
}

}  // namespace kp
