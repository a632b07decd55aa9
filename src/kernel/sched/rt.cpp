// The RT class: SCHED_FIFO and SCHED_RR (kernel/sched/rt.c). One FIFO list
// per priority and a bitmap; a preempted task keeps its place at the head of
// its list, a task whose RR slice ends goes to the tail.
#include <algorithm>
#include <cassert>

#include "kernel/sched/core.h"
#include "kernel/trace/tracepoint.h"

namespace kp {

namespace {

int rr_timeslice_jiffies(const rq& rq) { return 100 * rq.k->config().hz / 1000; }  // RR_TIMESLICE

void update_curr_rt(rq& rq) {
    task_struct& curr = *rq.curr;
    if (curr.sched_class != &rt_sched_class) return;
    const nsec_t delta = rq.clock_task - curr.se.exec_start;
    if (delta <= 0) return;
    curr.se.sum_exec_runtime += delta;
    trace_point(*rq.k, trace_event::sched_stat_runtime, curr.pid, delta);
    curr.se.exec_start = rq.clock_task;
}

struct rt_class final : sched_class {
    constexpr rt_class() : sched_class(0) {}

    void enqueue_task(rq& rq, task_struct& p, int /*flags*/) const override {
        auto& q = rq.rt.queue[static_cast<std::size_t>(p.prio)];
        q.push_back(&p);
        rq.rt.bitmap.set(static_cast<std::size_t>(p.prio));
        ++rq.rt.rt_nr_running;
        p.rt.on_rq = true;
    }

    void dequeue_task(rq& rq, task_struct& p, int /*flags*/) const override {
        update_curr_rt(rq);
        auto& q = rq.rt.queue[static_cast<std::size_t>(p.prio)];
        auto it = std::find(q.begin(), q.end(), &p);
        assert(it != q.end());
        q.erase(it);
        if (q.empty()) rq.rt.bitmap.reset(static_cast<std::size_t>(p.prio));
        --rq.rt.rt_nr_running;
        p.rt.on_rq = false;
    }

    static void requeue_task_rt(rq& rq, task_struct& p) {
        auto& q = rq.rt.queue[static_cast<std::size_t>(p.prio)];
        q.erase(std::find(q.begin(), q.end(), &p));
        q.push_back(&p);
    }

    void yield_task(rq& rq) const override { requeue_task_rt(rq, *rq.curr); }

    void wakeup_preempt(rq& rq, task_struct& p, int /*wake_flags*/) const override {
        if (p.prio < rq.curr->prio) resched_curr(rq);
    }

    task_struct* pick_task(rq& rq) const override {
        if (rq.rt.rt_nr_running == 0) return nullptr;
        // sched_find_first_bit(): a word scan, not a bit-by-bit one.
        const std::size_t prio = rq.rt.bitmap._Find_first();
        return prio < MAX_RT_PRIO ? rq.rt.queue[prio].front() : nullptr;
    }

    void put_prev_task(rq& rq, task_struct& /*p*/) const override { update_curr_rt(rq); }

    void set_next_task(rq& rq, task_struct& p, bool /*first*/) const override { p.se.exec_start = rq.clock_task; }

    void task_tick(rq& rq, task_struct& p) const override {
        update_curr_rt(rq);
        if (p.policy != sched_policy::rr) return;
        if (--p.rt.time_slice > 0) return;
        p.rt.time_slice = rr_timeslice_jiffies(rq);
        // Requeue to the end of the list only if not alone at this priority.
        if (rq.rt.queue[static_cast<std::size_t>(p.prio)].size() > 1) {
            requeue_task_rt(rq, p);
            resched_curr(rq);
        }
    }

    void update_curr(rq& rq) const override { update_curr_rt(rq); }

    void task_fork(task_struct& p) const override { p.rt.time_slice = 100 * p.k->config().hz / 1000; }
};

const rt_class rt_instance;

}  // namespace

const sched_class& rt_sched_class = rt_instance;

}  // namespace kp
