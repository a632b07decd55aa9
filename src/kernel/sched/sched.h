// The scheduler core's shared definitions: runqueues, the scheduling-class
// ops table, and the core functions (kernel/sched/sched.h's role).
//
// Lock order (documented, as Linux's):
//   p->pi_lock  ->  rq->lock  ->  (a second rq->lock, lower CPU number first:
//   double_rq_lock)
// No rq lock is ever held across burn(), so on the simulated machine they
// never contend; on the host they are real spinlocks.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "kernel/locking/raw_spinlock.h"
#include "kernel/sched/task.h"

namespace kp {

struct rq;

// Enqueue / dequeue flags (kernel/sched/sched.h).
inline constexpr int ENQUEUE_WAKEUP = 0x01;
inline constexpr int ENQUEUE_MIGRATED = 0x40;
inline constexpr int ENQUEUE_INITIAL = 0x80;
inline constexpr int DEQUEUE_SLEEP = 0x01;
inline constexpr int DEQUEUE_MIGRATING = 0x100;

// Wake flags.
inline constexpr int WF_EXEC = 0x02;
inline constexpr int WF_FORK = 0x04;
inline constexpr int WF_TTWU = 0x08;
inline constexpr int WF_SYNC = 0x10;
inline constexpr int WF_MIGRATED = 0x20;

// One ops table per scheduling class; the classes are ranked (rt > fair >
// idle) and picked in that order. Each class lives in its own file.
struct sched_class {
    int rank;  // lower = higher priority
    constexpr explicit sched_class(int r) : rank(r) {}
    virtual ~sched_class() = default;
    virtual void enqueue_task(rq& rq, task_struct& p, int flags) const = 0;
    virtual void dequeue_task(rq& rq, task_struct& p, int flags) const = 0;
    virtual void yield_task(rq& rq) const = 0;
    virtual void wakeup_preempt(rq& rq, task_struct& p, int wake_flags) const = 0;
    // Return the next task of this class (not removed from the queue), or null.
    virtual task_struct* pick_task(rq& rq) const = 0;
    virtual void put_prev_task(rq& rq, task_struct& p) const = 0;
    virtual void set_next_task(rq& rq, task_struct& p, bool first) const = 0;
    virtual void task_tick(rq& rq, task_struct& p) const = 0;
    virtual void update_curr(rq& rq) const = 0;
    // A new task gets its class state (fair: vruntime placement happens at enqueue).
    virtual void task_fork(task_struct& p) const = 0;
};

extern const sched_class& rt_sched_class;
extern const sched_class& fair_sched_class;
extern const sched_class& idle_sched_class;

// 128-bit intermediates, as Linux's mul_u64_u32_shr / avg_vruntime use.
__extension__ typedef __int128 s128;

struct cfs_rq {
    // Runnable fair tasks except curr, linked through sched_entity in
    // Linux's rbtree order: by deadline, a later insertion after earlier
    // equals (runqueues are short, so a list; see fair.cpp).
    task_struct* first = nullptr;
    task_struct* last = nullptr;
    std::uint64_t next_seq = 0;  // numbers insertions (sched_entity::queue_seq)
    task_struct* curr = nullptr;       // the running fair task, if any
    unsigned nr_running = 0;           // including curr
    std::uint64_t load_weight = 0;     // including curr
    std::int64_t min_vruntime = 0;     // monotonic floor, the placement reference
    // Sums over `queued`, kept at every insert and removal (a queued
    // entity's vruntime never changes; only curr's runs), so that V and
    // eligibility cost O(1), as Linux's cfs_rq->avg_vruntime / avg_load.
    // Absolute and 128-bit: exact, whatever min_vruntime does.
    s128 queued_vw = 0;                      // sum of vruntime * weight
    std::uint64_t queued_load = 0;           // sum of weight
    std::int64_t queued_min_vruntime = 0;    // smallest queued vruntime, unless stale
    bool queued_min_stale = false;           // its holder left: rescan on demand
};

struct rt_rq {
    std::array<std::vector<task_struct*>, MAX_RT_PRIO> queue;
    std::bitset<MAX_RT_PRIO> bitmap;
    unsigned rt_nr_running = 0;
};

struct rq {
    kernel* k = nullptr;
    int cpu = 0;
    arch_spinlock lock;  // taken through rq_lock guards (kernel/sched/rq_lock.h)
    unsigned nr_running = 0;
    task_struct* curr = nullptr;
    task_struct* idle = nullptr;
    // The task on the other side of switch_to(): Linux's `last`.
    task_struct* switch_prev = nullptr;
    cfs_rq cfs;
    rt_rq rt;
    nsec_t clock = 0;
    nsec_t clock_task = 0;  // clock less the irq and softirq time
    std::uint64_t nr_switches = 0;
    mm_struct* prev_mm = nullptr;  // lazy-TLB mm to drop after the switch
    std::uint64_t nr_lazy_tlb_switches = 0;
    std::uint64_t nr_mm_switches = 0;
    std::uint64_t enqueue_seq = 0;
};

}  // namespace kp
