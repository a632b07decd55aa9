// Workqueues (kernel/workqueue.c, include/linux/workqueue.h): work items run
// in process context by per-CPU kernel threads, kworker/N:0, which compete
// as ordinary SCHED_NORMAL tasks, so a work function may sleep.
//
// An item is queued at most once: queueing sets WORK_STRUCT_PENDING, and
// queueing a pending item does nothing and returns false. The worker clears
// PENDING just before calling the function, so the function may queue its
// own item again. An item never runs concurrently with itself: queued while
// it still runs on another CPU's pool, it goes to that pool, behind itself.
// Delayed work is a jiffies timer whose callback queues the item (on the
// CPU the timer ran on, for WORK_CPU_UNBOUND).
//
// The per-CPU pools live in struct percpu (worker_pool.h); a workqueue
// itself is only a name here.
#pragma once

#include <atomic>
#include <functional>
#include <source_location>
#include <string>

#include "kernel/sched/task.h"
#include "kernel/time/timer.h"

namespace kp {

class kernel;
struct worker_pool;
struct work_struct;
struct workqueue_struct;

using work_func_t = std::function<void(work_struct&)>;

inline constexpr unsigned WORK_STRUCT_PENDING_BIT = 0;
// Any CPU: on a per-CPU workqueue, the queueing CPU.
inline constexpr int WORK_CPU_UNBOUND = NR_CPUS;
// task->flags: a workqueue worker (include/linux/sched.h).
inline constexpr unsigned PF_WQ_WORKER = 0x00000020;

struct work_struct {
    std::atomic<unsigned long> data{0};  // WORK_STRUCT_PENDING
    work_func_t func;
    // Linux packs these into `data` too. The pool it is queued on or last
    // ran on (get_work_pool), and the workqueue it was queued through.
    worker_pool* pool = nullptr;
    const workqueue_struct* wq = nullptr;
    bool queued = false;   // on pool->worklist (Linux: !list_empty(&work->entry))
    bool barrier = false;  // flush_work's barrier, not a caller's item
};

struct delayed_work {
    work_struct work;
    timer_list timer;  // its callback queues `work` (delayed_work_timer_fn)
    workqueue_struct* wq = nullptr;
    int cpu = WORK_CPU_UNBOUND;
};

struct workqueue_struct {
    std::string name;
    unsigned flags = 0;  // no WQ_UNBOUND, WQ_HIGHPRI, ... yet: every workqueue is per-CPU
};

// "events", the per-CPU workqueue of schedule_work(). It holds no state (the
// pools are each kernel's), so one object serves every machine.
extern workqueue_struct* const system_wq;

// INIT_WORK / INIT_DELAYED_WORK: an idle item that calls `func`. The
// delayed form's timer points at `dwork`, which must not move afterwards.
void INIT_WORK(work_struct& work, work_func_t func);
void INIT_DELAYED_WORK(delayed_work& dwork, work_func_t func);

bool work_pending(const work_struct& work);
bool delayed_work_pending(const delayed_work& dwork);
// True in a kworker (PF_WQ_WORKER).
bool current_is_workqueue_worker();

// Queue on `cpu`'s pool (WORK_CPU_UNBOUND: this CPU's). Any context. False
// if the item was already pending; it is then left as it was.
bool queue_work_on(int cpu, workqueue_struct* wq, work_struct& work);
bool queue_work(workqueue_struct* wq, work_struct& work);
bool schedule_work(work_struct& work);
bool schedule_work_on(int cpu, work_struct& work);

// The same after `delay` jiffies (0: at once), timer-wheel rounding
// included (time/timer.h).
bool queue_delayed_work_on(int cpu, workqueue_struct* wq, delayed_work& dwork, unsigned long delay);
bool queue_delayed_work(workqueue_struct* wq, delayed_work& dwork, unsigned long delay);
bool schedule_delayed_work(delayed_work& dwork, unsigned long delay);
bool schedule_delayed_work_on(int cpu, delayed_work& dwork, unsigned long delay);

// Take a pending item off its timer or worklist; true if it was pending. A
// running function is not waited for. Any context.
bool cancel_work(work_struct& work);
bool cancel_delayed_work(delayed_work& dwork);

// Sleep until the last queueing of `work` has run; false, at once, if it
// was neither queued nor running. Task context. flush_delayed_work first
// queues a delayed item whose timer is still pending.
bool flush_work(work_struct& work, std::source_location loc = std::source_location::current());
bool flush_delayed_work(delayed_work& dwork, std::source_location loc = std::source_location::current());

// Create kworker/N:0 for every CPU (workqueue_init).
void workqueue_init(kernel& k);

}  // namespace kp
