// The fair class: EEVDF as in Linux 6.12 (kernel/sched/fair.c), on a list
// per runqueue kept in the order of Linux's rbtree, by deadline. Runqueues
// are short, and in deadline order the first eligible entity is usually
// one of the first few: the pick walks from the front where Linux's
// tree, augmented with min_vruntime, skips ineligible subtrees; an
// insertion walks from the back, as a fresh deadline tends to be among the
// later ones.
//
//   vruntime += delta * NICE_0_LOAD / weight
//   V  = the load-weighted average vruntime of the runqueue (curr included)
//   eligible(se) <=> se.vruntime <= V
//   pick: among eligible entities, the earliest virtual deadline
//   deadline = vruntime + base_slice * NICE_0_LOAD / weight, renewed when
//   vruntime reaches it; then the tick reschedules (if others wait).
//   RUN_TO_PARITY: the picked task keeps the CPU until its deadline moves.
//
// Differences, on purpose: no DELAY_DEQUEUE (a sleeping task leaves at
// once, its lag clamped and kept), no group scheduling, no NEXT_BUDDY.
#include <algorithm>
#include <cassert>
#include <cstdint>

#include "kernel/sched/core.h"
#include "kernel/trace/tracepoint.h"

namespace kp {

namespace {

constexpr std::uint64_t NICE_0_LOAD = 1024;

// sched_prio_to_weight: each nice step is ~10% CPU (x1.25 weight).
constexpr std::uint64_t prio_to_weight[40] = {
    88761, 71755, 56483, 46273, 36291, 29154, 23254, 18705, 14949, 11916,
    9548,  7620,  6100,  4904,  3906,  3121,  2501,  1991,  1586,  1277,
    1024,  820,   655,   526,   423,   335,   272,   215,   172,   137,
    110,   87,    70,    56,    45,    36,    29,    23,    18,    15,
};

// a / b for 0 < b < 2^63, truncating like the 128-bit division it
// replaces: 64-bit when a fits (the usual case), as __divti3 is slow.
std::int64_t div_s128(s128 a, std::uint64_t b) {
    const auto d = static_cast<std::int64_t>(b);
    if (a >= INT64_MIN && a <= INT64_MAX) return static_cast<std::int64_t>(a) / d;
    return static_cast<std::int64_t>(a / d);
}

std::int64_t calc_delta_fair(nsec_t delta, const sched_entity& se) {
    if (se.weight == NICE_0_LOAD) return delta;
    return div_s128(static_cast<s128>(delta) * NICE_0_LOAD, se.weight);
}

// sysctl_sched_base_slice: 0.7 ms x (1 + ilog2(min(cpus, 8))), unless the
// machine sets it (/sys/kernel/debug/sched/base_slice_ns).
nsec_t base_slice(const rq& rq) {
    if (rq.k->config().base_slice > 0) return rq.k->config().base_slice;
    int n = std::min(rq.k->nr_cpus(), 8);
    int factor = 1;
    while (n > 1) {
        n >>= 1;
        ++factor;
    }
    return 700000 * factor;
}

cfs_rq& cfs_of(rq& rq) { return rq.cfs; }

// Link p into the queue after `prev` (at the front when null).
void queue_link(cfs_rq& cfs, task_struct& p, task_struct* prev) {
    task_struct* next = prev ? prev->se.queue_next : cfs.first;
    p.se.queue_prev = prev;
    p.se.queue_next = next;
    (prev ? prev->se.queue_next : cfs.first) = &p;
    (next ? next->se.queue_prev : cfs.last) = &p;
}

// The queue proper (every runnable fair task but curr), with its sums. A
// queued entity's vruntime, deadline and weight do not change (only curr's
// run; a change of nice or policy dequeues first).
void queue_insert(cfs_rq& cfs, task_struct& p) {
    assert(!p.se.queued);
    if (!cfs.first) {
        cfs.queued_min_vruntime = p.se.vruntime;
        cfs.queued_min_stale = false;
    } else if (!cfs.queued_min_stale) {
        cfs.queued_min_vruntime = std::min(cfs.queued_min_vruntime, p.se.vruntime);
    }
    p.se.queue_seq = cfs.next_seq++;
    p.se.queued = true;
    // After every entity with a deadline not later than p's.
    task_struct* prev = cfs.last;
    while (prev && prev->se.deadline > p.se.deadline) prev = prev->se.queue_prev;
    queue_link(cfs, p, prev);
    cfs.queued_vw += static_cast<s128>(p.se.vruntime) * p.se.weight;
    cfs.queued_load += p.se.weight;
}

void queue_erase(cfs_rq& cfs, task_struct& p) {
    assert(p.se.queued);
    const sched_entity& se = p.se;
    (se.queue_prev ? se.queue_prev->se.queue_next : cfs.first) = se.queue_next;
    (se.queue_next ? se.queue_next->se.queue_prev : cfs.last) = se.queue_prev;
    p.se.queued = false;
    cfs.queued_vw -= static_cast<s128>(se.vruntime) * se.weight;
    cfs.queued_load -= se.weight;
    if (se.vruntime <= cfs.queued_min_vruntime) cfs.queued_min_stale = true;
}

// Smallest vruntime in the queue (which must not be empty).
std::int64_t queued_min_vruntime(cfs_rq& cfs) {
    if (cfs.queued_min_stale) {
        std::int64_t v = cfs.first->se.vruntime;
        for (const task_struct* p = cfs.first; p; p = p->se.queue_next) v = std::min(v, p->se.vruntime);
        cfs.queued_min_vruntime = v;
        cfs.queued_min_stale = false;
    }
    return cfs.queued_min_vruntime;
}

// The load-weighted sum of (vruntime - min_vruntime) over the queue and
// curr, and the load: what avg_vruntime() and entity_eligible() share.
struct vruntime_sum {
    s128 sum = 0;
    std::uint64_t load = 0;
};

vruntime_sum sum_vruntime(const cfs_rq& cfs) {
    vruntime_sum s{cfs.queued_vw - static_cast<s128>(cfs.min_vruntime) * cfs.queued_load, cfs.queued_load};
    if (cfs.curr && cfs.curr->se.on_rq) {
        s.sum += static_cast<s128>(cfs.curr->se.vruntime - cfs.min_vruntime) * cfs.curr->se.weight;
        s.load += cfs.curr->se.weight;
    }
    return s;
}

// avg_vruntime(): weighted mean of the queued entities and curr.
std::int64_t avg_vruntime(const cfs_rq& cfs) {
    vruntime_sum s = sum_vruntime(cfs);
    if (s.load == 0) return cfs.min_vruntime;
    // Round towards -inf, as Linux does, so that V never runs ahead.
    if (s.sum < 0) s.sum -= static_cast<s128>(s.load) - 1;
    return cfs.min_vruntime + div_s128(s.sum, s.load);
}

// vruntime_eligible(): v <= V without the division, given the sums.
bool entity_eligible(const cfs_rq& cfs, const vruntime_sum& s, const task_struct& p) {
    return s.sum >= static_cast<s128>(p.se.vruntime - cfs.min_vruntime) * s.load;
}

bool entity_eligible(const cfs_rq& cfs, const task_struct& p) { return entity_eligible(cfs, sum_vruntime(cfs), p); }

// The same test for many entities at once: (v - min_vruntime) * load <= sum
// holds exactly when v - min_vruntime <= floor(sum / load), so one division
// replaces a 128-bit product per entity.
struct eligible_limit {
    s128 max_offset;  // the largest eligible v - min_vruntime
    std::int64_t min_vruntime;
    bool operator()(std::int64_t vruntime) const { return static_cast<s128>(vruntime - min_vruntime) <= max_offset; }
};

eligible_limit make_eligible_limit(const cfs_rq& cfs, const vruntime_sum& s) {
    // No load: every offset or none (past the int64 range either way).
    if (s.load == 0) return {s.sum >= 0 ? s128{INT64_MAX} : s128{INT64_MIN} - 1, cfs.min_vruntime};
    // Division truncates towards zero: floor it. 64-bit when the sum fits
    // (the usual case), as __divti3 is slow.
    const auto load = static_cast<std::int64_t>(s.load);
    if (s.sum >= INT64_MIN && s.sum <= INT64_MAX) {
        const auto sum = static_cast<std::int64_t>(s.sum);
        const std::int64_t q = sum / load;
        return {q * load > sum ? q - 1 : q, cfs.min_vruntime};
    }
    const s128 q = s.sum / load;
    return {q * load > s.sum ? q - 1 : q, cfs.min_vruntime};
}

void update_min_vruntime(cfs_rq& cfs) {
    std::int64_t v = cfs.min_vruntime;
    bool have = false;
    if (cfs.curr && cfs.curr->se.on_rq) {
        v = cfs.curr->se.vruntime;
        have = true;
    }
    if (cfs.first) {
        const std::int64_t q = queued_min_vruntime(cfs);
        v = have ? std::min(v, q) : q;
        have = true;
    }
    if (have && v > cfs.min_vruntime) cfs.min_vruntime = v;
}

// The protected deadline of RUN_TO_PARITY (Linux keeps it in se->vlag).
bool protect_slice(const task_struct& p) { return p.se.vlag == p.se.deadline; }
void cancel_protect_slice(task_struct& p) { p.se.vlag = p.se.deadline + 1; }

// Returns true when the request (slice) is used up.
bool update_deadline(const rq& rq, task_struct& p) {
    if (p.se.vruntime < p.se.deadline) return false;
    p.se.slice = base_slice(rq);
    p.se.deadline = p.se.vruntime + calc_delta_fair(p.se.slice, p.se);
    return true;
}

void update_curr_fair(rq& rq) {
    cfs_rq& cfs = cfs_of(rq);
    task_struct* curr = cfs.curr;
    if (!curr) return;
    const nsec_t delta = rq.clock_task - curr->se.exec_start;
    if (delta <= 0) return;
    curr->se.exec_start = rq.clock_task;
    curr->se.sum_exec_runtime += delta;
    trace_point(*rq.k, trace_event::sched_stat_runtime, curr->pid, delta);
    curr->se.vruntime += calc_delta_fair(delta, curr->se);
    const bool resched = update_deadline(rq, *curr);
    update_min_vruntime(cfs);
    if (cfs.nr_running > 1 && resched && rq.curr == curr) resched_curr(rq);
}

task_struct* pick_eevdf(cfs_rq& cfs) {
    task_struct* curr = cfs.curr;
    if (curr && !curr->se.on_rq) curr = nullptr;
    if (cfs.nr_running == 1) return curr ? curr : cfs.first;
    const vruntime_sum sums = sum_vruntime(cfs);  // nothing below moves a vruntime
    if (curr && !entity_eligible(cfs, sums, *curr)) curr = nullptr;
    if (curr && protect_slice(*curr)) return curr;  // RUN_TO_PARITY
    // The queue is in deadline order: the first eligible entity has the
    // earliest eligible deadline (the earliest queued among equals).
    const eligible_limit eligible = make_eligible_limit(cfs, sums);
    task_struct* best = cfs.first;
    while (best && !eligible(best->se.vruntime)) best = best->se.queue_next;
    if (!best || (curr && curr->se.deadline < best->se.deadline)) best = curr;
    if (!best) {
        // Rounding left nothing eligible: take the smallest vruntime (the
        // earliest queued among equals).
        for (task_struct* p = cfs.first; p; p = p->se.queue_next)
            if (!best || p->se.vruntime < best->se.vruntime ||
                (p->se.vruntime == best->se.vruntime && p->se.queue_seq < best->se.queue_seq))
                best = p;
    }
    return best;
}

// place_entity(): keep the lag the task had when it left (PLACE_LAG),
// inflated for the weight it adds; a new task's first deadline is half a
// slice away (PLACE_DEADLINE_INITIAL).
void place_entity(rq& rq, task_struct& p, int flags) {
    cfs_rq& cfs = cfs_of(rq);
    const std::int64_t v = avg_vruntime(cfs);
    std::int64_t lag = 0;
    const std::uint64_t load = cfs.load_weight;
    if (cfs.nr_running > 0 && p.se.vlag != 0 && load > 0) {
        lag = div_s128(static_cast<s128>(p.se.vlag) * (load + p.se.weight), load);
    }
    p.se.vruntime = v - lag;
    p.se.slice = base_slice(rq);
    std::int64_t vslice = calc_delta_fair(p.se.slice, p.se);
    if (flags & ENQUEUE_INITIAL) vslice /= 2;
    p.se.deadline = p.se.vruntime + vslice;
}

// update_entity_lag(): lag = V - v, clamped to one slice or tick each side.
void update_entity_lag(const cfs_rq& cfs, task_struct& p, nsec_t tick) {
    const std::int64_t lag = avg_vruntime(cfs) - p.se.vruntime;
    const std::int64_t limit = calc_delta_fair(std::max<nsec_t>(2 * p.se.slice, tick), p.se);
    p.se.vlag = std::clamp(lag, -limit, limit);
}

struct fair_class final : sched_class {
    constexpr fair_class() : sched_class(1) {}

    void enqueue_task(rq& rq, task_struct& p, int flags) const override {
        cfs_rq& cfs = cfs_of(rq);
        update_curr_fair(rq);
        place_entity(rq, p, flags);
        p.se.on_rq = true;
        p.seq_in_rq = ++rq.enqueue_seq;
        if (cfs.curr != &p) queue_insert(cfs, p);
        ++cfs.nr_running;
        cfs.load_weight += p.se.weight;
    }

    void dequeue_task(rq& rq, task_struct& p, int /*flags*/) const override {
        cfs_rq& cfs = cfs_of(rq);
        update_curr_fair(rq);
        update_entity_lag(cfs, p, rq.k->tick_nsec());
        if (cfs.curr != &p) queue_erase(cfs, p);
        p.se.on_rq = false;
        --cfs.nr_running;
        cfs.load_weight -= p.se.weight;
        update_min_vruntime(cfs);
    }

    void yield_task(rq& rq) const override {
        task_struct& curr = *rq.curr;
        if (cfs_of(rq).nr_running == 1) return;
        update_curr_fair(rq);
        curr.se.deadline += calc_delta_fair(curr.se.slice, curr.se);
    }

    void wakeup_preempt(rq& rq, task_struct& p, int /*wake_flags*/) const override {
        task_struct& curr = *rq.curr;
        if (&p == &curr || curr.test_tif(TIF_NEED_RESCHED)) return;
        const bool curr_idle = curr.policy == sched_policy::idle;
        const bool p_idle = p.policy == sched_policy::idle;
        if (curr_idle && !p_idle) {
            resched_curr(rq);
            return;
        }
        if (p_idle || p.policy == sched_policy::batch) return;
        update_curr_fair(rq);
        cfs_rq& cfs = cfs_of(rq);
        // PREEMPT_SHORT: a shorter-slice, eligible, earlier wakee ends curr's protection.
        if (p.se.slice < curr.se.slice && entity_eligible(cfs, p) &&
            (p.se.deadline < curr.se.deadline || !entity_eligible(cfs, curr)))
            cancel_protect_slice(curr);
        if (pick_eevdf(cfs) == &p) resched_curr(rq);
    }

    task_struct* pick_task(rq& rq) const override {
        cfs_rq& cfs = cfs_of(rq);
        if (cfs.nr_running == 0) return nullptr;
        update_curr_fair(rq);
        return pick_eevdf(cfs);
    }

    void put_prev_task(rq& rq, task_struct& p) const override {
        cfs_rq& cfs = cfs_of(rq);
        if (cfs.curr != &p) return;
        update_curr_fair(rq);
        if (p.se.on_rq) queue_insert(cfs, p);
        cfs.curr = nullptr;
    }

    void set_next_task(rq& rq, task_struct& p, bool /*first*/) const override {
        cfs_rq& cfs = cfs_of(rq);
        if (p.se.queued) queue_erase(cfs, p);
        cfs.curr = &p;
        p.se.exec_start = rq.clock_task;
        p.se.prev_sum_exec_runtime = p.se.sum_exec_runtime;
        p.se.vlag = p.se.deadline;  // RUN_TO_PARITY: protect this slice
    }

    void task_tick(rq& rq, task_struct& /*p*/) const override { update_curr_fair(rq); }

    void update_curr(rq& rq) const override { update_curr_fair(rq); }

    void task_fork(task_struct& p) const override {
        p.se.vlag = 0;
        p.se.vruntime = 0;
    }
};

const fair_class fair_instance;

}  // namespace

const sched_class& fair_sched_class = fair_instance;

std::uint64_t sched_prio_to_weight(int nice) {
    return prio_to_weight[std::clamp(nice, -20, 19) + 20];
}

}  // namespace kp
