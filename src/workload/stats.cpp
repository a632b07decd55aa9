#include "workload/stats.h"

#include <algorithm>
#include <numeric>

#include "kernel/kernel.h"

namespace kp::workload {

std::unique_lock<std::mutex> stats_collector::lock() {
    if (callers_ == observer_callers::one_thread) return {};
    return std::unique_lock(lock_);
}

stats_collector::per_task& stats_collector::task(int pid) {
    if (static_cast<std::size_t>(pid) >= tasks_.size()) tasks_.resize(static_cast<std::size_t>(pid) + 1);
    return tasks_[static_cast<std::size_t>(pid)];
}

void stats_collector::on_switch(const sched_switch_event& e) {
    const auto held = lock();
    if (static_cast<std::size_t>(e.cpu) >= open_.size()) open_.resize(static_cast<std::size_t>(e.cpu) + 1);
    open_slice& o = open_[static_cast<std::size_t>(e.cpu)];
    if (o.pid > 0 && e.time > o.start) {
        // Name the point only when the task was switched out while runnable.
        const bool involuntary = e.prev_state == 0 && e.point != preempt_point::exit;
        slices_.push_back({e.cpu, o.start, e.time, o.pid, o.comm,
                           involuntary ? std::string(preempt_point_name(e.point)) : std::string()});
    }
    o.pid = e.next_pid;
    o.start = e.time;
    o.comm = std::string(e.next_comm);
    if (e.next_pid <= 0) return;
    per_task& t = task(e.next_pid);
    ++t.runs;
    if (t.woken_at >= 0) {
        t.latencies.push_back(e.time - t.woken_at);
        t.woken_at = -1;
    }
}

void stats_collector::on_wakeup(const sched_wakeup_event& e) {
    const auto held = lock();
    per_task& t = task(e.pid);
    if (t.woken_at < 0) t.woken_at = e.time;
}

void stats_collector::on_irq_handler(nsec_t time, int cpu, int irq, bool entry) {
    const auto held = lock();
    if (static_cast<std::size_t>(cpu) >= irq_start_.size()) irq_start_.resize(static_cast<std::size_t>(cpu) + 1, -1);
    nsec_t& start = irq_start_[static_cast<std::size_t>(cpu)];
    if (entry) {
        start = time;
    } else if (start >= 0) {
        slices_.push_back({cpu, start, time, -1, "irq" + std::to_string(irq), {}});
        start = -1;
    }
}

void stats_collector::finish(nsec_t now) {
    for (std::size_t cpu = 0; cpu < open_.size(); ++cpu) {
        open_slice& o = open_[cpu];
        if (o.pid > 0 && now > o.start) slices_.push_back({static_cast<int>(cpu), o.start, now, o.pid, o.comm, {}});
        o.pid = -1;
    }
    std::stable_sort(slices_.begin(), slices_.end(), [](const timeline_slice& a, const timeline_slice& b) {
        return a.cpu != b.cpu ? a.cpu < b.cpu : a.start < b.start;
    });
}

std::uint64_t stats_collector::runs(int pid) const {
    return static_cast<std::size_t>(pid) < tasks_.size() ? tasks_[static_cast<std::size_t>(pid)].runs : 0;
}

latency_stats stats_collector::wakeup_latency(int pid) const {
    if (static_cast<std::size_t>(pid) >= tasks_.size()) return {};
    return summarize(tasks_[static_cast<std::size_t>(pid)].latencies);
}

latency_stats summarize(std::vector<nsec_t> samples) {
    latency_stats s;
    s.count = samples.size();
    if (samples.empty()) return s;
    std::sort(samples.begin(), samples.end());
    s.min = samples.front();
    s.max = samples.back();
    // p99 by nearest rank: the smallest sample with at least 99% at or below it.
    const std::size_t rank = (samples.size() * 99 + 99) / 100;
    s.p99 = samples[std::max<std::size_t>(rank, 1) - 1];
    s.mean = static_cast<double>(std::accumulate(samples.begin(), samples.end(), nsec_t{0})) /
             static_cast<double>(samples.size());
    return s;
}

namespace {

const char* policy_name(sched_policy p) {
    switch (p) {
    case sched_policy::normal: return "SCHED_OTHER";
    case sched_policy::fifo: return "SCHED_FIFO";
    case sched_policy::rr: return "SCHED_RR";
    case sched_policy::batch: return "SCHED_BATCH";
    case sched_policy::idle: return "SCHED_IDLE";
    }
    return "?";
}

}  // namespace

namespace {

// Per CPU, `n` entries of `v` (missing ones are 0).
template <class T>
std::vector<T> per_cpu(const std::vector<T>& v, std::size_t n) {
    std::vector<T> out(n, T{});
    std::copy_n(v.begin(), std::min(n, v.size()), out.begin());
    return out;
}

// /proc/interrupts and /proc/softirqs: every line with an action (or that
// counted arrivals before it was freed), and all ten softirq vectors.
void collect_interrupts(kernel& k, run_result& out) {
    const auto ncpu = static_cast<std::size_t>(k.nr_cpus());
    for (std::size_t i = 0; i < k.irq_descs.size(); ++i) {
        const irq_desc& d = k.irq_descs[i];
        const bool counted = std::any_of(d.count_per_cpu.begin(), d.count_per_cpu.end(),
                                         [](std::uint64_t n) { return n != 0; });
        if (!d.requested() && !d.thread_fn && !counted) continue;
        out.interrupts.push_back(
            {static_cast<int>(i), d.name, per_cpu(d.count_per_cpu, ncpu), per_cpu(d.time_per_cpu, ncpu)});
    }
    for (unsigned nr = 0; nr < NR_SOFTIRQS; ++nr) {
        softirq_result s{static_cast<int>(nr), softirq_to_name[nr], {}, {}};
        for (std::size_t c = 0; c < ncpu; ++c) {
            const softirq_cpu& sc = k.cpu(static_cast<int>(c)).softirq;
            s.count.push_back(sc.count[nr]);
            s.time.push_back(sc.time[nr]);
        }
        out.softirqs.push_back(std::move(s));
    }
}

}  // namespace

void collect_results(kernel& k, const std::vector<task_struct*>& tasks, const stats_collector& stats,
                     run_result& out) {
    for (const task_struct* t : tasks) {
        task_result r;
        r.name = t->comm;
        r.pid = t->pid;
        r.policy = policy_name(t->policy);
        r.priority = task_is_rt(*t) ? t->rt_priority : prio_to_nice(t->static_prio);
        if (t->first_run >= 0) r.first_run = t->first_run;
        r.runs = stats.runs(t->pid);
        r.wakeup_latency = stats.wakeup_latency(t->pid);
        r.runtime = t->se.sum_exec_runtime;
        r.nvcsw = t->nvcsw;
        r.nivcsw = t->nivcsw;
        r.exited = t->exit_time >= 0;
        out.tasks.push_back(std::move(r));
    }
    for (int c = 0; c < k.nr_cpus(); ++c) {
        const percpu& pc = k.cpu(c);
        const auto& b = pc.acct.bucket;
        cpu_result u;
        u.user = b[int(cpu_bucket::user)];
        u.system = b[int(cpu_bucket::system)];
        u.irq = b[int(cpu_bucket::irq)];
        u.softirq = b[int(cpu_bucket::softirq)];
        u.idle = b[int(cpu_bucket::idle)];
        u.nmi_count = pc.nmi_count;
        u.nmi_time = pc.nmi_time;
        u.ksoftirqd = pc.acct.ksoftirqd;
        u.softirq_restart_limit = pc.softirq.restarts_exhausted;
        u.softirq_time_limit = pc.softirq.time_exhausted;
        u.softirq_need_resched = pc.softirq.resched_ended;
        out.cpu.push_back(u);
    }
    collect_interrupts(k, out);
    for (const auto& e : k.log.entries()) out.kernel_log.push_back(e.text);
    out.timeline = stats.timeline();
}

}  // namespace kp::workload
