// cyclictest (rt-tests v2.1, src/cyclictest/cyclictest.c) on either
// machine (run_options::backend): its options, its measuring threads
// (timerthread: clock_nanosleep to an absolute time, then now - next) and
// its output (print_stat, print_hist), byte for byte.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "workload/runner.h"
#include "workload/workload.h"

namespace kp::workload {

inline constexpr long cyclictest_hist_max = 1000000;  // HIST_MAX: larger -h values are cut to it

struct cyclictest_options {
    long interval_us = 1000;            // -i (DEFAULT_INTERVAL)
    // -p: SCHED_FIFO at that priority; without -p SCHED_OTHER (P:0). As in
    // cyclictest, -p 0 asks for SCHED_FIFO and gets priority threads + 1.
    std::optional<int> priority;
    int threads = 1;                    // -t NUM (1 without -t)
    bool thread_per_cpu = false;        // -t alone: one per CPU (of the -a set, if given)
    bool affinity = false;              // -a
    std::vector<int> affinity_cpus;     // -a CPUSET; empty: thread i on CPU i
    std::optional<long> duration_s;     // -D
    unsigned long loops = 0;            // -l; 0: no limit
    long histogram = 0;                 // -h / -H US; 0: none
    bool histofall = false;             // -H: a summary column
    std::optional<long> distance_us;    // -d (DEFAULT_DISTANCE 500; 0 with a histogram)
    bool quiet = false;                 // -q
    bool nsecs = false;                 // -N
};

// Without -D or -l cyclictest runs until interrupted; here it needs an end.
inline constexpr long cyclictest_default_duration_s = 1;

// Where a thread runs and what it measures with (par->cpu, interval, prio).
struct cyclictest_thread_plan {
    int cpu = 0;          // pinned there with -a; else only first placed there
    bool pinned = false;
    long interval_us = 0;
    sched_policy policy = sched_policy::normal;
    int prio = 0;         // the P: column; the SCHED_FIFO priority
};

// One thread per -t, placed as cyclictest places them on `nr_cpus` CPUs.
std::vector<cyclictest_thread_plan> plan_cyclictest(const cyclictest_options& o, int nr_cpus);
// The CPUs the threads start on, ascending, each once: where --load goes.
std::vector<int> measured_cpus(const std::vector<cyclictest_thread_plan>& plan);

// struct thread_stat, as cyclictest keeps it.
struct cyclictest_stat {
    int tid = 0;
    int prio = 0;
    long interval_us = 0;
    unsigned long cycles = 0;
    long min = 1000000;  // cyclictest's starting value, printed as is when no cycle ran
    long max = 0;
    long act = 0;
    double avg = 0;  // the sum; divided by cycles when printed
    std::vector<long> hist;          // -h: samples per bucket
    unsigned long hist_overflow = 0;
    std::vector<unsigned long> outliers;  // cycle numbers of the first overflows
    bool finished = false;  // ended by -D or -l (not by the run's safety limit)
};

struct cyclictest_result {
    run_result run;  // the machine's run: model, CPUs, warnings
    std::vector<cyclictest_stat> threads;
};

// Runs the threads beside `load` (a background load; it may have no tasks)
// with the machine settings of `opt`.
cyclictest_result run_cyclictest(const cyclictest_options& o, const std::vector<cyclictest_thread_plan>& plan,
                                 const workload& load, run_options opt);

// The "T:" line of thread `index` (print_stat), without the newline.
std::string format_stat(const cyclictest_stat& s, int index, bool nsecs);
// print_hist's text, the blank line at its end included.
std::string format_hist(const std::vector<cyclictest_stat>& threads, long histogram, bool histofall);
// What cyclictest prints at the end of a run with these options: the policy
// line and the T: lines unless -q, then the histogram (with -q and -h, only
// the histogram). `loadavg` stands in for /proc/loadavg.
std::string format_cyclictest(const cyclictest_result& r, const cyclictest_options& o, const std::string& loadavg);

// cyclictest's calcdiff(): the seconds' difference in us plus the
// nanoseconds' difference divided by 1000, each truncated on its own.
long calcdiff_us(nsec_t t1, nsec_t t2);

}  // namespace kp::workload
