// The kernel instance: per-CPU state and the machine-wide state. A scheduler
// made of statics would allow one machine per process; this is an object, so
// a test can own several.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "arch/arch.h"
#include "kernel/irq/irq.h"
#include "kernel/irq/nmi.h"
#include "kernel/irq/softirq.h"
#include "kernel/irq/tasklet_vec.h"
#include "kernel/preempt/model.h"
#include "kernel/preempt/preempt_count.h"
#include "kernel/sched/sched.h"
#include "kernel/trace/trace.h"
#include "kernel/time/hrtimer.h"
#include "kernel/workqueue/worker_pool.h"
#include "kpreempt/config.h"
#include "kpreempt/log.h"
#include "kpreempt/observer.h"

namespace kp {

// Per-CPU time buckets (a subset of Linux's cpustat; nice time is in user).
enum class cpu_bucket : std::uint8_t { user, system, irq, softirq, idle, count };

struct cpu_accounting {
    nsec_t bucket[static_cast<int>(cpu_bucket::count)] = {};
    nsec_t last = 0;  // time up to which everything is charged
    cpu_bucket cur = cpu_bucket::idle;  // where time goes now
    // The part of the softirq bucket served by ksoftirqd: as with Linux's
    // IRQ_TIME_ACCOUNTING it is that task's own time (stime, vruntime), so
    // it is not irq time for rq->clock_task.
    nsec_t ksoftirqd = 0;
    nsec_t irq_total() const {
        return bucket[int(cpu_bucket::irq)] + bucket[int(cpu_bucket::softirq)] - ksoftirqd;
    }
};

struct timer_list;
class callpath_counter;

// One CPU's state: Linux's per-CPU variables gathered in one place.
struct percpu {
    kernel* k = nullptr;
    int cpu = 0;
    preempt_word preempt_count;
    preempt_check_limits preempt_limits;  // DEBUG_PREEMPT's, and the preempt tracer's hook
    std::atomic<bool> irqs_off{true};
    rq runqueue;
    hrtimer_cpu_base hrtimers;
    hrtimer tick_timer;
    std::vector<timer_list*> timers;  // jiffies timers (timer wheel stand-in)
    softirq_cpu softirq;
    tasklet_cpu tasklets;  // tasklet_vec, tasklet_hi_vec (irq/tasklet.h)
    worker_pool cpu_worker_pool;  // kworker/N:0 and its worklist (workqueue/workqueue.h)
    std::uint64_t trace_mask = 0;  // trace events live on this CPU (trace_array::publish)
    callpath_counter* callpath = nullptr;  // counting call paths (trace/callpath.h)
    bool hardirq_stack_inuse = false;  // on the irq stack (x86 pcpu_hot.hardirq_stack_inuse)
    std::unique_ptr<task_stack> hardirq_stack;  // the irq stack (x86 hardirq_stack_ptr), IRQ_STACK_SIZE
    // Set by the machine just before it delivers an interrupt where a task's
    // own code ran (burn(), or the host's redirected code): the only places
    // an interrupt can come from user mode (user_mode(regs)). Anywhere else
    // (local_irq_enable's replay, a lock spin, idle) the CPU was in kernel
    // code, even when the task called it from user mode.
    bool irq_at_user_point = false;
    std::uint64_t nmi_count = 0;  // /proc/interrupts "NMI"
    nsec_t nmi_time = 0;          // time in NMI handlers (Linux charges it to what they interrupted)
    cpu_accounting acct;
    task_struct* idle = nullptr;
    task_struct* current_task = nullptr;  // `current`
    bool online = false;
};

class kernel {
public:
    kernel(const kernel_config& cfg, arch_machine& arch);
    ~kernel();
    kernel(const kernel&) = delete;
    kernel& operator=(const kernel&) = delete;

    const kernel_config& config() const { return cfg_; }
    arch_machine& arch() { return arch_; }
    int nr_cpus() const { return static_cast<int>(cpus_.size()); }
    percpu& cpu(int n) { return *cpus_[static_cast<std::size_t>(n)]; }
    nsec_t tick_nsec() const { return tick_nsec_; }

    // Tasks: every task ever created, in pid order; owned here. tasks() is
    // for when the machine has stopped; find_task may be called meanwhile.
    task_struct& alloc_task(const std::string& comm, bool idle = false);
    const std::vector<std::unique_ptr<task_struct>>& tasks() const { return tasks_; }
    task_struct* find_task(int pid);  // not the idle tasks (all pid 0)
    void release_task_stack(task_struct& p);
    // Charge every CPU's time up to now (when the machine stops).
    void sync_accounting();
    // Created by kernel_clone, not yet dead (read by a host machine's own thread).
    std::size_t nr_live_tasks() const { return live_tasks_.load(std::memory_order_acquire); }
    void task_created() { live_tasks_.fetch_add(1, std::memory_order_relaxed); }
    void task_exited() { live_tasks_.fetch_sub(1, std::memory_order_release); }

    preempt_dynamic dyn;
    std::atomic<std::uint64_t> jiffies{0};
    int tick_do_timer_cpu = 0;
    kernel_log log;
    sched_observer* observer = nullptr;
    mm_struct init_mm;
    mm_struct& alloc_mm(const std::string& owner);
    nsec_t last_might_resched_report = -1;  // rate limit of __might_resched
    int preempt_notifier_key = 0;            // static key preempt_notifier_key
    // available_idle_cpu() of every CPU, one bit each, kept by
    // update_idle_cpu() so that wakeup placement need not visit every
    // runqueue (Linux keeps similar hints: nohz.idle_cpus_mask, has_idle_cores).
    std::atomic<std::uint64_t> idle_cpus[NR_CPUS / 64] = {};
    std::vector<irq_desc> irq_descs = std::vector<irq_desc>(NR_IRQS);  // never resized: threads hold pointers
    std::array<softirq_action, NR_SOFTIRQS> softirq_vec;  // open_softirq
    std::vector<nmi_action> nmi_handlers;  // register_nmi_handler
    trace_array trace;
    // force_irqthreads(): the threadirqs boot option (kernel_config).
    bool force_irqthreads() const { return cfg_.threadirqs; }

private:
    kernel_config cfg_;
    arch_machine& arch_;
    nsec_t tick_nsec_;
    std::vector<std::unique_ptr<percpu>> cpus_;
    std::mutex tasks_lock_;  // tasks_, mms_, next_pid_
    std::vector<std::unique_ptr<task_struct>> tasks_;
    std::vector<std::unique_ptr<mm_struct>> mms_;
    std::atomic<std::size_t> live_tasks_{0};
    int next_pid_ = 1;
};

// The CPU this code runs on. Set by the machine whenever it enters a CPU
// (the simulated loop on resume, a host vCPU thread once).
inline thread_local percpu* this_cpu_ptr = nullptr;

inline percpu& this_cpu() { return *this_cpu_ptr; }
inline rq& this_rq() { return this_cpu_ptr->runqueue; }
// `current` changes inside switch_to (x86's pcpu_hot.current_task), not when
// __schedule sets rq->curr: prepare_task_switch still runs as prev.
inline task_struct& current() { return *this_cpu_ptr->current_task; }
inline int smp_processor_id() { return this_cpu_ptr ? this_cpu_ptr->cpu : -1; }
inline kernel& this_kernel() { return *this_cpu_ptr->k; }
inline rq& cpu_rq(kernel& k, int cpu) { return k.cpu(cpu).runqueue; }
inline percpu& rq_percpu(rq& r) { return r.k->cpu(r.cpu); }

}  // namespace kp
