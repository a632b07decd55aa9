// The fair class (EEVDF, spec 6.3 and 6.4): CPU shares follow
// sched_prio_to_weight, the base slice is 0.7 ms x (1 + ilog2(min(ncpus, 8)))
// and is noticed at the tick (no HRTICK), and a wakee preempts only when
// pick_eevdf would choose it (eligible, earlier virtual deadline).
//
// HZ 1000 and zero costs throughout: times are exact.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kpreempt/kpreempt.h"
#include "test_util.h"

namespace kp {
namespace {

TEST(FairWeights, SchedPrioToWeightTable) {
    EXPECT_EQ(sched_prio_to_weight(-20), 88761u);
    EXPECT_EQ(sched_prio_to_weight(-5), 3121u);
    EXPECT_EQ(sched_prio_to_weight(-1), 1277u);
    EXPECT_EQ(sched_prio_to_weight(0), 1024u);  // NICE_0_LOAD
    EXPECT_EQ(sched_prio_to_weight(1), 820u);
    EXPECT_EQ(sched_prio_to_weight(5), 335u);
    EXPECT_EQ(sched_prio_to_weight(19), 15u);
    // The whole table, as kernel/sched/core.c has it.
    constexpr std::uint64_t linux_table[40] = {
        88761, 71755, 56483, 46273, 36291, 29154, 23254, 18705, 14949, 11916,
        9548,  7620,  6100,  4904,  3906,  3121,  2501,  1991,  1586,  1277,
        1024,  820,   655,   526,   423,   335,   272,   215,   172,   137,
        110,   87,    70,    56,    45,    36,    29,    23,    18,    15,
    };
    for (int nice = -20; nice <= 19; ++nice) EXPECT_EQ(sched_prio_to_weight(nice), linux_table[nice + 20]) << nice;
    // Each nice step is about x1.25 (10% of CPU), up to the table's rounding.
    for (int nice = -20; nice < 19; ++nice) {
        const double step = double(sched_prio_to_weight(nice)) / double(sched_prio_to_weight(nice + 1));
        EXPECT_NEAR(step, 1.25, 0.06) << "nice " << nice;
    }
}

TEST(FairWeights, SpawnedTaskCarriesItsWeightAndPrio) {
    sim m({.nr_cpus = 1});
    task_struct& p = m.spawn({.name = "n5", .nice = 5}, [] {});
    EXPECT_EQ(p.se.weight, 335u);
    EXPECT_EQ(p.static_prio, 125);
    EXPECT_EQ(p.prio, 125);
}

// Two CPU hogs on one CPU: the first switch comes at the first tick after
// the running one's first request is used up, half a slice for a new task
// (PLACE_DEADLINE_INITIAL): 0.35 ms by default (the 1 ms tick), 2.25 ms
// with base_slice set to 4.5 ms (the 3 ms tick).
nsec_t first_switch_between_hogs(nsec_t base_slice) {
    sim m({.nr_cpus = 1, .base_slice = base_slice});
    switch_recorder rec;
    m.set_observer(&rec);
    task_struct& a = m.spawn({.name = "a"}, [] { burn(msecs(20)); });
    task_struct& b = m.spawn({.name = "b"}, [] { burn(msecs(20)); });
    m.run(secs(1));
    for (const switch_record& s : rec.switches)
        if (s.prev_pid == a.pid && s.next_pid == b.pid) return s.time;
    return -1;
}

TEST(FairSlice, BaseSliceIsTheMachinesSysctl) {
    EXPECT_EQ(first_switch_between_hogs(0), msecs(1));
    EXPECT_EQ(first_switch_between_hogs(usecs(4500)), msecs(3));
}

// CPU-bound tasks of the given nice levels on one CPU for 1 s of virtual
// time; returns each one's user time.
std::vector<nsec_t> shares(const std::vector<int>& nices) {
    sim m({.nr_cpus = 1});
    std::vector<task_struct*> ts;
    for (int nice : nices)
        ts.push_back(&m.spawn({.name = "nice" + std::to_string(nice), .nice = nice}, [] { burn(secs(10)); }));
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::time_limit);
    std::vector<nsec_t> out;
    nsec_t total = 0;
    for (const task_struct* p : ts) {
        out.push_back(p->utime);
        total += p->utime;
        EXPECT_EQ(p->stime, 0);  // user-mode work only, and zero costs
    }
    EXPECT_EQ(total, secs(1));  // the CPU was never idle
    return out;
}

// |got/want - 1| <= 2%.
void expect_ratio(nsec_t a, nsec_t b, std::uint64_t wa, std::uint64_t wb) {
    const double got = double(a) / double(b);
    const double want = double(wa) / double(wb);
    EXPECT_LE(std::fabs(got / want - 1.0), 0.02) << "runtime ratio " << got << ", weight ratio " << want;
}

TEST(FairShares, Nice0VsNice5FollowsTheWeightRatio) {
    const auto t = shares({0, 5});
    expect_ratio(t[0], t[1], 1024, 335);
}

TEST(FairShares, EqualNiceSplitsEvenly) {
    const auto t = shares({0, 0});
    expect_ratio(t[0], t[1], 1, 1);
}

TEST(FairShares, ThreeLevels) {
    const auto t = shares({-5, 0, 5});
    expect_ratio(t[0], t[1], 3121, 1024);
    expect_ratio(t[1], t[2], 1024, 335);
    expect_ratio(t[0], t[2], 3121, 335);
}

// Two equal CPU-bound tasks pinned to CPU 0 of an ncpus machine: the
// switch times on CPU 0 during the first 20 ms.
std::vector<nsec_t> alternation(int ncpus, nsec_t* slice) {
    sim m({.nr_cpus = ncpus, .hz = 1000});
    switch_recorder rec;
    m.set_observer(&rec);
    task_struct& a = m.spawn({.name = "A", .cpus = {0}}, [] { burn(secs(1)); });
    m.spawn({.name = "B", .cpus = {0}}, [] { burn(secs(1)); });
    EXPECT_EQ(m.run(msecs(20)), sim_machine::stop_reason::time_limit);
    *slice = a.se.slice;
    std::vector<nsec_t> times;
    for (const auto& s : rec.switches)
        if (s.cpu == 0 && s.prev_comm != "swapper/0") times.push_back(s.time);
    return times;
}

// The expected switch times: a new task's first deadline is half a slice
// away (PLACE_DEADLINE_INITIAL), later ones a whole slice; the tick
// notices the deadline, so each run lasts a whole number of ticks:
// c = ceil(slice/2) ticks for each first run, then s = ceil(slice) ticks.
std::vector<nsec_t> expected_alternation(int first_ticks, int slice_ticks) {
    std::vector<nsec_t> out;
    nsec_t t = msecs(first_ticks);
    out.push_back(t);
    t += msecs(first_ticks);
    out.push_back(t);
    for (t += msecs(slice_ticks); t <= msecs(20); t += msecs(slice_ticks)) out.push_back(t);
    return out;
}

TEST(FairSlice, BaseSliceOneCpuSwitchesEveryTick) {
    nsec_t slice = 0;
    EXPECT_EQ(alternation(1, &slice), expected_alternation(1, 1));
    EXPECT_EQ(slice, 700000);  // 0.7 ms x (1 + ilog2(1))
}

TEST(FairSlice, BaseSliceTwoCpusSwitchesEveryTwoTicks) {
    nsec_t slice = 0;
    EXPECT_EQ(alternation(2, &slice), expected_alternation(1, 2));
    EXPECT_EQ(slice, 1400000);  // x (1 + ilog2(2))
}

TEST(FairSlice, BaseSliceFourCpusSwitchesEveryThreeTicks) {
    nsec_t slice = 0;
    EXPECT_EQ(alternation(4, &slice), expected_alternation(2, 3));
    EXPECT_EQ(slice, 2100000);  // x (1 + ilog2(4))
}

TEST(FairSlice, BaseSliceScalesNoFurtherThanEightCpus) {
    nsec_t slice = 0;
    EXPECT_EQ(alternation(8, &slice), expected_alternation(2, 3));
    EXPECT_EQ(slice, 2800000);  // x (1 + ilog2(8))
    EXPECT_EQ(alternation(16, &slice), expected_alternation(2, 3));
    EXPECT_EQ(slice, 2800000);  // min(16, 8) = 8
}

// A nice-0 hog runs alone; at 2.2 ms an interrupt wakes a task (never run,
// zero lag) of the given nice level. The hog's deadline is 2.7 ms (renewed
// at the 2 ms tick); the wakee is placed at V = 2.2 ms with deadline
// V + 0.7 ms x 1024 / weight.
struct wake_result {
    nsec_t wakee_first_run;
    preempt_point point;
};

wake_result fair_wakeup(int wakee_nice) {
    sim m({.nr_cpus = 1, .hz = 1000});
    switch_recorder rec;
    m.set_observer(&rec);
    m.spawn({.name = "hog"}, [] { burn(msecs(10)); });
    task_struct& w = m.spawn({.name = "wakee", .nice = wakee_nice, .start_stopped = true}, [] { burn(usecs(500)); });
    m.request_irq(1, "dev", [&w] { wake_up_process(w); });
    m.raise_irq(usecs(2200), 0, 1);
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    const switch_record* to_w = rec.first_switch_to(w.pid);
    EXPECT_NE(to_w, nullptr);
    return {w.first_run, to_w ? to_w->point : preempt_point::none};
}

TEST(FairWakeup, EligibleWakeeWithEarlierDeadlinePreempts) {
    // nice -5: deadline 2.2 + 0.2297 ms < 2.7 ms: pick_eevdf picks it now.
    const auto r = fair_wakeup(-5);
    EXPECT_EQ(r.wakee_first_run, usecs(2200));
    EXPECT_EQ(r.point, preempt_point::return_to_user);
}

TEST(FairWakeup, WakeeWithLaterDeadlineWaitsForTheTick) {
    // nice 0: deadline 2.9 ms > 2.7 ms: no preemption; the 3 ms tick ends
    // the hog's slice and the wakee (then the only eligible one) runs.
    const auto r = fair_wakeup(0);
    EXPECT_EQ(r.wakee_first_run, msecs(3));
    EXPECT_EQ(r.point, preempt_point::return_to_user);
}

TEST(FairWakeup, LowerWeightWakeeWaitsForTheTick) {
    // nice 5: deadline 2.2 + 2.14 ms: later still.
    const auto r = fair_wakeup(5);
    EXPECT_EQ(r.wakee_first_run, msecs(3));
}

}  // namespace
}  // namespace kp
