#include "workload/cyclictest.h"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <memory>
#include <set>

#include "kpreempt/kpreempt.h"

namespace kp::workload {

long calcdiff_us(nsec_t t1, nsec_t t2) {
    // The machine's clock (virtual or real) is never negative: / and %
    // split it as tv_sec / tv_nsec.
    assert(t1 >= 0 && t2 >= 0);
    const std::int64_t sec = t1 / NSEC_PER_SEC - t2 / NSEC_PER_SEC;
    const std::int64_t nsec = t1 % NSEC_PER_SEC - t2 % NSEC_PER_SEC;
    return static_cast<long>(sec * 1000000 + nsec / 1000);
}

std::vector<cyclictest_thread_plan> plan_cyclictest(const cyclictest_options& o, int nr_cpus) {
    assert(nr_cpus >= 1);
    // A CPU set is a bitmask: ascending, each CPU once (cpu_for_thread_sp).
    const std::set<int> set(o.affinity_cpus.begin(), o.affinity_cpus.end());
    const std::vector<int> cpus(set.begin(), set.end());
    const int n = !o.thread_per_cpu ? o.threads : cpus.empty() ? nr_cpus : static_cast<int>(cpus.size());
    // With a histogram all threads share one interval; otherwise each is
    // DIST longer than the one before.
    const long distance = o.histogram ? 0 : o.distance_us.value_or(500);
    const bool fifo = o.priority.has_value();
    const int prio = !fifo ? 0 : *o.priority > 0 ? *o.priority : n + 1;  // "defaulting realtime priority"
    std::vector<cyclictest_thread_plan> plan;
    long interval = o.interval_us;
    for (int i = 0; i < n; ++i) {
        cyclictest_thread_plan p;
        p.cpu = cpus.empty() ? i % nr_cpus : cpus[static_cast<std::size_t>(i) % cpus.size()];
        p.pinned = o.affinity;
        p.interval_us = interval;
        p.policy = fifo ? sched_policy::fifo : sched_policy::normal;
        p.prio = prio;
        plan.push_back(p);
        interval += distance;
    }
    return plan;
}

std::vector<int> measured_cpus(const std::vector<cyclictest_thread_plan>& plan) {
    std::set<int> cpus;
    for (const auto& p : plan) cpus.insert(p.cpu);
    return {cpus.begin(), cpus.end()};
}

namespace {

// cyclictest's timerthread() in clock_nanosleep mode with TIMER_ABSTIME.
class timerthread {
public:
    timerthread(cyclictest_stat& stat, const cyclictest_options& o) : stat_(stat), o_(o) {}

    void operator()() {
        const nsec_t interval = usecs(stat_.interval_us);
        nsec_t now = clock_gettime();
        nsec_t next = now + interval;
        const nsec_t stop = o_.duration_s ? now + secs(*o_.duration_s) : 0;
        for (;;) {
            clock_nanosleep(next);
            now = clock_gettime();
            // An hrtimer never fires early, so no sample is negative.
            assert(now >= next);
            record(o_.nsecs ? static_cast<long>(now - next) : calcdiff_us(now, next));
            // The sample at or after the stop time still counts; then the
            // thread ends (cyclictest sets shutdown and leaves the loop).
            const bool shutdown = o_.duration_s && calcdiff_us(now, stop) >= 0;
            // A wakeup later than whole intervals skips them: the next
            // deadline is the first one not already past.
            next += interval;
            while (now > next) next += interval;
            if (shutdown || (o_.loops && stat_.cycles == o_.loops)) break;
        }
        stat_.finished = true;
    }

private:
    // The vDSO reads the clock without entering the kernel.
    static nsec_t clock_gettime() { return this_kernel().arch().now(); }

    // clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next): a syscall.
    static void clock_nanosleep(nsec_t next) {
        syscall_section sys;
        hrtimer_nanosleep(next, hrtimer_mode::abs);
    }

    void record(long diff) {
        stat_.min = std::min(stat_.min, diff);
        stat_.max = std::max(stat_.max, diff);
        stat_.avg += static_cast<double>(diff);
        stat_.act = diff;
        if (o_.histogram) {
            if (diff >= o_.histogram) {
                ++stat_.hist_overflow;
                if (stat_.outliers.size() < static_cast<std::size_t>(o_.histogram))
                    stat_.outliers.push_back(stat_.cycles);
            } else {
                ++stat_.hist[static_cast<std::size_t>(diff)];
            }
        }
        ++stat_.cycles;
    }

    cyclictest_stat& stat_;
    const cyclictest_options& o_;
};

// The run's end: the threads end by themselves (-D, -l); this bound only
// stops a run whose threads never get the CPU, at twice the expected length
// plus 10 s.
nsec_t safety_limit(const cyclictest_options& o, const std::vector<cyclictest_thread_plan>& plan) {
    nsec_t longest = 0;
    for (const auto& p : plan) {
        nsec_t end = KTIME_MAX;
        if (o.duration_s) end = secs(*o.duration_s) + usecs(p.interval_us);
        if (o.loops) end = std::min(end, static_cast<nsec_t>(o.loops) * usecs(p.interval_us));
        assert(end != KTIME_MAX);  // the command line gives every run an end
        longest = std::max(longest, end);
    }
    return 2 * longest + secs(10);
}

}  // namespace

cyclictest_result run_cyclictest(const cyclictest_options& o, const std::vector<cyclictest_thread_plan>& plan,
                                 const workload& load, run_options opt) {
    cyclictest_result r;
    r.threads.resize(plan.size());
    std::vector<std::unique_ptr<timerthread>> bodies;
    for (std::size_t i = 0; i < plan.size(); ++i) {
        cyclictest_stat& s = r.threads[i];
        s.prio = plan[i].prio;
        s.interval_us = plan[i].interval_us;
        if (o.histogram) s.hist.assign(static_cast<std::size_t>(o.histogram), 0);
        bodies.push_back(std::make_unique<timerthread>(s, o));
    }
    opt.duration = safety_limit(o, plan);
    opt.measure = [&](kernel& k) {
        for (std::size_t i = 0; i < plan.size(); ++i) {
            task_spec spec;
            spec.name = "cyclictest";
            spec.policy = plan[i].policy;
            if (plan[i].policy == sched_policy::fifo) spec.priority = plan[i].prio;
            if (plan[i].pinned) spec.cpus = {plan[i].cpu};
            spec.cpu = plan[i].cpu;
            r.threads[i].tid = spawn_task(k, spec, [b = bodies[i].get()] { (*b)(); }).pid;
        }
    };
    r.run = run_workload(load, opt);
    return r;
}

std::string format_stat(const cyclictest_stat& s, int index, bool nsecs) {
    const long avg = s.cycles ? static_cast<long>(s.avg / static_cast<double>(s.cycles)) : 0;
    char buf[256];
    if (nsecs)
        std::snprintf(buf, sizeof buf, "T:%2d (%5d) P:%2d I:%ld C:%7lu Min:%7ld Act:%8ld Avg:%8ld Max:%8ld", index,
                      s.tid, s.prio, s.interval_us, s.cycles, s.min, s.act, avg, s.max);
    else
        std::snprintf(buf, sizeof buf, "T:%2d (%5d) P:%2d I:%ld C:%7lu Min:%7ld Act:%5ld Avg:%5ld Max:%8ld", index,
                      s.tid, s.prio, s.interval_us, s.cycles, s.min, s.act, avg, s.max);
    return buf;
}

namespace {

void append(std::string& out, const char* fmt, auto... args) {
    char buf[64];
    std::snprintf(buf, sizeof buf, fmt, args...);
    out += buf;
}

// One "# Name:" row with a " %05lu" per thread, and the summary column of -H.
template <class F>
void summary_row(std::string& out, const char* name, const std::vector<cyclictest_stat>& threads, F value,
                 std::optional<unsigned long> all) {
    out += name;
    for (const auto& s : threads) append(out, " %05lu", static_cast<unsigned long>(value(s)));
    if (all) append(out, " %05lu", *all);
    out += '\n';
}

}  // namespace

std::string format_hist(const std::vector<cyclictest_stat>& threads, long histogram, bool histofall) {
    const bool all_column = histofall && threads.size() > 1;
    std::vector<unsigned long long> totals(threads.size() + 1, 0);
    std::string out = "# Histogram\n";
    for (long i = 0; i < histogram; ++i) {
        unsigned long long allthreads = 0;
        append(out, "%06ld ", i);
        for (std::size_t j = 0; j < threads.size(); ++j) {
            const auto n = static_cast<unsigned long>(threads[j].hist.at(static_cast<std::size_t>(i)));
            append(out, "%06lu", n);
            if (j + 1 < threads.size()) out += '\t';
            totals[j] += n;
            allthreads += n;
        }
        if (all_column) {
            append(out, "\t%06llu", allthreads);
            totals.back() += allthreads;
        }
        out += '\n';
    }
    out += "# Total:";
    for (std::size_t j = 0; j < threads.size(); ++j) append(out, " %09llu", totals[j]);
    if (all_column) append(out, " %09llu", totals.back());
    out += '\n';
    unsigned long maxmax = 0, overflows = 0;
    for (const auto& s : threads) {
        maxmax = std::max(maxmax, static_cast<unsigned long>(s.max));
        overflows += s.hist_overflow;
    }
    const auto none = std::optional<unsigned long>{};
    summary_row(out, "# Min Latencies:", threads, [](const cyclictest_stat& s) { return s.min; }, none);
    summary_row(out, "# Avg Latencies:", threads,
                [](const cyclictest_stat& s) {
                    return s.cycles ? static_cast<long>(s.avg / static_cast<double>(s.cycles)) : 0L;
                },
                none);
    summary_row(out, "# Max Latencies:", threads, [](const cyclictest_stat& s) { return s.max; },
                all_column ? std::optional(maxmax) : none);
    summary_row(out, "# Histogram Overflows:", threads, [](const cyclictest_stat& s) { return s.hist_overflow; },
                all_column ? std::optional(overflows) : none);
    out += "# Histogram Overflow at cycle number:\n";
    for (std::size_t i = 0; i < threads.size(); ++i) {
        const cyclictest_stat& s = threads[i];
        append(out, "# Thread %zu:", i);
        for (unsigned long c : s.outliers) append(out, " %05lu", c);
        if (s.outliers.size() < s.hist_overflow) append(out, " # %05lu others", s.hist_overflow - s.outliers.size());
        out += '\n';
    }
    out += '\n';
    return out;
}

std::string format_cyclictest(const cyclictest_result& r, const cyclictest_options& o, const std::string& loadavg) {
    std::string out;
    const bool fifo = o.priority.has_value();
    // Without -p cyclictest forces SCHED_OTHER and names it twice.
    if (!o.quiet)
        out += std::string("policy: ") + (fifo ? "fifo" : "other/other") + ": loadavg: " + loadavg + "          \n\n";
    // With -q and a histogram, cyclictest prints only the histogram.
    if (!o.quiet || !o.histogram)
        for (std::size_t i = 0; i < r.threads.size(); ++i)
            out += format_stat(r.threads[i], static_cast<int>(i), o.nsecs) + "\n";
    if (o.histogram) out += format_hist(r.threads, o.histogram, o.histofall);
    return out;
}

}  // namespace kp::workload
