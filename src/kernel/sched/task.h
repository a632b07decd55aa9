// task_struct: the per-task state the preemption system needs, with Linux's
// names. The folded need-resched bit lives in the CPU's preempt_count word;
// the task carries the TIF bits.
#pragma once

#include <atomic>
#include <bitset>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "arch/stack.h"
#include "kernel/locking/raw_spinlock.h"
#include "kernel/trace/shadow_stack.h"
#include "kpreempt/time.h"

namespace kp {

struct sched_class;
struct task_struct;
struct preempt_notifier;
class kernel;

inline constexpr int NR_CPUS = 256;
using cpumask = std::bitset<NR_CPUS>;

// Task states (include/linux/sched.h).
inline constexpr unsigned TASK_RUNNING = 0x0000;
inline constexpr unsigned TASK_INTERRUPTIBLE = 0x0001;
inline constexpr unsigned TASK_UNINTERRUPTIBLE = 0x0002;
inline constexpr unsigned TASK_DEAD = 0x0080;
inline constexpr unsigned TASK_WAKEKILL = 0x0100;
inline constexpr unsigned TASK_WAKING = 0x0200;
inline constexpr unsigned TASK_NOLOAD = 0x0400;
inline constexpr unsigned TASK_NEW = 0x0800;
inline constexpr unsigned TASK_KILLABLE = TASK_WAKEKILL | TASK_UNINTERRUPTIBLE;
inline constexpr unsigned TASK_IDLE = TASK_UNINTERRUPTIBLE | TASK_NOLOAD;
inline constexpr unsigned TASK_NORMAL = TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE;

// thread_info flags.
inline constexpr unsigned TIF_SIGPENDING = 2;
inline constexpr unsigned TIF_NEED_RESCHED = 3;
inline constexpr unsigned TIF_NEED_RESCHED_LAZY = 4;

// task->flags.
inline constexpr unsigned PF_IDLE = 0x00000002;
inline constexpr unsigned PF_EXITING = 0x00000004;
inline constexpr unsigned PF_KTHREAD = 0x00200000;
inline constexpr unsigned PF_NO_SETAFFINITY = 0x04000000;  // per-CPU kthreads (smpboot)

enum class sched_policy : int { normal = 0, fifo = 1, rr = 2, batch = 3, idle = 5 };

inline constexpr int MAX_RT_PRIO = 100;
inline constexpr int MAX_PRIO = MAX_RT_PRIO + 40;
inline constexpr int DEFAULT_PRIO = MAX_RT_PRIO + 20;
constexpr int nice_to_prio(int nice) { return DEFAULT_PRIO + nice; }
constexpr int prio_to_nice(int prio) { return prio - DEFAULT_PRIO; }

// An address space. mm_users pins the address space, mm_count the struct
// (what a lazy-TLB kernel thread borrows).
struct mm_struct {
    std::atomic<int> mm_users{1};
    std::atomic<int> mm_count{1};
    std::string owner;
};

// Fair-class (EEVDF) scheduling entity.
struct sched_entity {
    std::uint64_t weight = 1024;
    std::int64_t vruntime = 0;
    std::int64_t deadline = 0;
    std::int64_t vlag = 0;
    nsec_t slice = 0;
    nsec_t exec_start = 0;
    nsec_t sum_exec_runtime = 0;
    nsec_t prev_sum_exec_runtime = 0;
    // The fair queue's links (cfs_rq::first), valid while `queued`, and the
    // insertion number that orders equal deadlines.
    task_struct* queue_prev = nullptr;
    task_struct* queue_next = nullptr;
    std::uint64_t queue_seq = 0;
    bool queued = false;
    bool on_rq = false;
};

// RT-class entity.
struct sched_rt_entity {
    int time_slice = 0;  // jiffies left (SCHED_RR)
    bool on_rq = false;
};

struct task_struct {
    kernel* k = nullptr;
    std::unique_ptr<shadow_stack> kstack;  // call-path counting only (callpath.h)
    int pid = 0;
    std::string comm;
    std::atomic<unsigned> __state{TASK_NEW};
    std::atomic<std::uint32_t> thread_flags{0};
    unsigned flags = 0;

    // Scheduling.
    arch_spinlock pi_lock;  // serialises wakeups (lock order: before rq->lock)
    const kp::sched_class* sched_class = nullptr;  // qualified: the member reuses the name
    sched_policy policy = sched_policy::normal;
    int static_prio = DEFAULT_PRIO;
    int normal_prio = DEFAULT_PRIO;
    int prio = DEFAULT_PRIO;
    int rt_priority = 0;
    sched_entity se;
    sched_rt_entity rt;
    int on_rq = 0;          // TASK_ON_RQ_QUEUED when 1
    std::atomic<int> on_cpu{0};
    int cpu = 0;            // task_cpu()
    int wake_cpu = 0;
    cpumask cpus_mask;
    // migrate_disable() depth: the balancer and affinity changes leave the
    // task on its CPU while non-zero (a host task preempted asynchronously
    // holds it until it resumes: docs/host.md).
    std::uint16_t migration_disabled = 0;
    int nr_cpus_allowed = 0;
    std::uint64_t seq_in_rq = 0;  // FIFO order inside a class queue
    // Counted in kernel::nr_live_tasks(), the machine's "all tasks exited"
    // stop condition; the kernel's own per-CPU threads never exit, so not them.
    bool counts_as_live = true;

    // Mode: a task runs in user mode unless inside a syscall section;
    // kernel threads are always in kernel mode.
    bool in_kernel_mode = false;

    // Address space.
    mm_struct* mm = nullptr;  // null for kernel threads (owned by the kernel)
    mm_struct* active_mm = nullptr;

    // Accounting (include/linux/sched.h names).
    nsec_t utime = 0;
    nsec_t stime = 0;
    std::uint64_t nvcsw = 0;
    std::uint64_t nivcsw = 0;
    nsec_t first_run = -1;     // virtual time of the first switch-in, or -1
    nsec_t last_wakeup = -1;   // time of the last wakeup not yet run (latency)
    nsec_t exit_time = -1;

    // Debug.
    int non_block_count = 0;
    bool warned_blocking_state = false;

    std::vector<preempt_notifier*> preempt_notifiers;  // front = most recent

    // Execution context.
    std::unique_ptr<task_stack> stack;
    stack_context ctx;
    std::function<void()> body;

    bool is_idle() const { return (flags & PF_IDLE) != 0; }
    bool is_kthread() const { return (flags & PF_KTHREAD) != 0; }
    unsigned state() const { return __state.load(std::memory_order_relaxed); }
    bool test_tif(unsigned bit) const { return (thread_flags.load(std::memory_order_relaxed) >> bit) & 1u; }
    void set_tif(unsigned bit) { thread_flags.fetch_or(1u << bit, std::memory_order_relaxed); }
    void clear_tif(unsigned bit) { thread_flags.fetch_and(~(1u << bit), std::memory_order_relaxed); }
};

inline bool task_is_rt(const task_struct& p) { return p.prio < MAX_RT_PRIO; }

}  // namespace kp
