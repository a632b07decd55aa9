// The RT class (spec 6.3, 6.4): SCHED_FIFO runs equal priorities in wakeup
// order, each to completion, and a higher priority preempts at once;
// SCHED_RR rotates equal priorities every RR_TIMESLICE (100 ticks at HZ
// 1000), never a task alone at its priority, and never a FIFO task.
//
// One CPU, HZ 1000, zero costs: every time below is exact.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kpreempt/kpreempt.h"
#include "test_util.h"

namespace kp {
namespace {

// "time cpu: prev -> next", one line per switch, so that a mismatch shows
// the whole schedule.
std::vector<std::string> trace(const switch_recorder& rec) {
    std::vector<std::string> out;
    for (const auto& s : rec.switches)
        out.push_back(std::to_string(s.time) + " cpu" + std::to_string(s.cpu) + ": " + s.prev_comm + " -> " +
                      s.next_comm);
    return out;
}

std::string sw(nsec_t t, const std::string& prev, const std::string& next) {
    return std::to_string(t) + " cpu0: " + prev + " -> " + next;
}

TEST(RtFifo, EqualPriorityRunsInWakeupOrderEachToCompletion) {
    sim m({.nr_cpus = 1});
    switch_recorder rec;
    m.set_observer(&rec);
    auto fifo10 = [](const char* name) {
        return task_spec{.name = name, .policy = sched_policy::fifo, .priority = 10, .start_stopped = true};
    };
    // Created A, B, C; woken C, A, B: the wakeup order decides, not creation.
    task_struct& a = m.spawn(fifo10("A"), [] { burn(msecs(3)); });
    task_struct& b = m.spawn(fifo10("B"), [] { burn(msecs(3)); });
    task_struct& c = m.spawn(fifo10("C"), [] { burn(msecs(3)); });
    m.spawn({.name = "waker", .policy = sched_policy::fifo, .priority = 90}, [&] {
        burn(msecs(1));
        syscall_section sys;
        wake_up_process(c);
        wake_up_process(a);
        wake_up_process(b);
    });
    ASSERT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    const std::vector<std::string> want = {
        sw(0, "swapper/0", "waker"),    sw(msecs(1), "waker", "C"), sw(msecs(4), "C", "A"),
        sw(msecs(7), "A", "B"),         sw(msecs(10), "B", "swapper/0"),
    };
    EXPECT_EQ(trace(rec), want);
    // Each ran to completion: the ticks never took the CPU from a FIFO task.
    for (const task_struct* p : {&a, &b, &c}) EXPECT_EQ(p->nivcsw, 0u) << p->comm;
}

TEST(RtFifo, HigherPriorityPreemptsAtOnceAndThePreemptedKeepsTheHead) {
    sim m({.nr_cpus = 1});
    switch_recorder rec;
    m.set_observer(&rec);
    m.spawn({.name = "low1", .policy = sched_policy::fifo, .priority = 10}, [] { burn(msecs(5)); });
    m.spawn({.name = "low2", .policy = sched_policy::fifo, .priority = 10}, [] { burn(msecs(1)); });
    task_struct& hi = m.spawn(
        {.name = "hi", .policy = sched_policy::fifo, .priority = 50, .start_stopped = true}, [] { burn(msecs(2)); });
    m.request_irq(1, "dev", [&hi] { wake_up_process(hi); });
    m.raise_irq(usecs(2500), 0, 1);
    ASSERT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    // low1 is preempted at the wakeup instant and resumes before low2: a
    // preempted RT task stays at the head of its priority's list.
    const std::vector<std::string> want = {
        sw(0, "swapper/0", "low1"),        sw(usecs(2500), "low1", "hi"),  sw(usecs(4500), "hi", "low1"),
        sw(msecs(7), "low1", "low2"),      sw(msecs(8), "low2", "swapper/0"),
    };
    EXPECT_EQ(trace(rec), want);
    ASSERT_EQ(rec.switches.size(), want.size());
    // The interrupt came from user mode: exit_to_user_mode_loop calls
    // schedule() (not SM_PREEMPT), with low1 still TASK_RUNNING.
    EXPECT_FALSE(rec.switches[1].preempt);
    EXPECT_EQ(rec.switches[1].prev_state, TASK_RUNNING);
    EXPECT_EQ(rec.switches[1].point, preempt_point::return_to_user);
    EXPECT_EQ(hi.first_run, usecs(2500));
}

// A wakeup from inside a syscall: FULL switches at the wakeup's own
// preempt_enable, NONE only when the syscall returns.
nsec_t rt_wake_from_syscall(preempt_mode model, preempt_point* point) {
    sim m({.nr_cpus = 1, .model = model});
    switch_recorder rec;
    m.set_observer(&rec);
    task_struct& hi = m.spawn(
        {.name = "hi", .policy = sched_policy::fifo, .priority = 50, .start_stopped = true}, [] { burn(msecs(1)); });
    m.spawn({.name = "low", .policy = sched_policy::fifo, .priority = 10}, [&hi] {
        burn(msecs(1));
        {
            syscall_section sys;
            wake_up_process(hi);
            burn(msecs(1));
        }
        burn(msecs(1));
    });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    const switch_record* to_hi = rec.first_switch_to(hi.pid);
    EXPECT_NE(to_hi, nullptr);
    *point = to_hi ? to_hi->point : preempt_point::none;
    return hi.first_run;
}

TEST(RtFifo, WakeupInsideASyscallPreemptsAtPreemptEnableUnderFull) {
    preempt_point point{};
    EXPECT_EQ(rt_wake_from_syscall(preempt_mode::full, &point), msecs(1));
    EXPECT_EQ(point, preempt_point::preempt_enable);
}

TEST(RtFifo, WakeupInsideASyscallWaitsForReturnToUserUnderNone) {
    preempt_point point{};
    EXPECT_EQ(rt_wake_from_syscall(preempt_mode::none, &point), msecs(2));
    EXPECT_EQ(point, preempt_point::return_to_user);
}

TEST(RtRr, EqualPrioritiesAlternateEverySliceOfTicks) {
    sim m({.nr_cpus = 1, .hz = 1000});
    switch_recorder rec;
    m.set_observer(&rec);
    task_struct& a =
        m.spawn({.name = "A", .policy = sched_policy::rr, .priority = 10}, [] { burn(msecs(250)); });
    task_struct& b =
        m.spawn({.name = "B", .policy = sched_policy::rr, .priority = 10}, [] { burn(msecs(250)); });
    // RR_TIMESLICE = 100 * HZ / 1000 jiffies, set at fork.
    EXPECT_EQ(a.rt.time_slice, 100);
    ASSERT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    // The 100th tick of a slice (100, 200, 300, 400 ms) moves the runner to
    // the tail; A's last 50 ms end at 450 ms, B's at 500 ms.
    const std::vector<std::string> want = {
        sw(0, "swapper/0", "A"), sw(msecs(100), "A", "B"), sw(msecs(200), "B", "A"),
        sw(msecs(300), "A", "B"), sw(msecs(400), "B", "A"), sw(msecs(450), "A", "B"),
        sw(msecs(500), "B", "swapper/0"),
    };
    EXPECT_EQ(trace(rec), want);
    for (std::size_t i = 1; i <= 4 && i < rec.switches.size(); ++i) {
        EXPECT_EQ(rec.switches[i].prev_state, TASK_RUNNING) << i;  // rotated, not blocked
        EXPECT_EQ(rec.switches[i].point, preempt_point::return_to_user) << i;
    }
    EXPECT_EQ(a.nivcsw, 2u);
    EXPECT_EQ(b.nivcsw, 2u);
}

TEST(RtRr, SliceFollowsHz) {
    sim m({.nr_cpus = 1, .hz = 250});
    switch_recorder rec;
    m.set_observer(&rec);
    task_struct& a =
        m.spawn({.name = "A", .policy = sched_policy::rr, .priority = 10}, [] { burn(msecs(150)); });
    m.spawn({.name = "B", .policy = sched_policy::rr, .priority = 10}, [] { burn(msecs(150)); });
    EXPECT_EQ(a.rt.time_slice, 25);  // 25 ticks of 4 ms: still 100 ms
    ASSERT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    const std::vector<std::string> want = {
        sw(0, "swapper/0", "A"), sw(msecs(100), "A", "B"), sw(msecs(200), "B", "A"),
        sw(msecs(250), "A", "B"), sw(msecs(300), "B", "swapper/0"),
    };
    EXPECT_EQ(trace(rec), want);
}

TEST(RtRr, ALoneRrTaskIsNotRotated) {
    sim m({.nr_cpus = 1});
    switch_recorder rec;
    m.set_observer(&rec);
    // A fair task waits below it: the RR task is alone at its priority, so
    // its expired slices are reloaded without a switch.
    task_struct& rr =
        m.spawn({.name = "rr", .policy = sched_policy::rr, .priority = 10}, [] { burn(msecs(250)); });
    m.spawn({.name = "fair"}, [] { burn(msecs(10)); });
    ASSERT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    const std::vector<std::string> want = {
        sw(0, "swapper/0", "rr"), sw(msecs(250), "rr", "fair"), sw(msecs(260), "fair", "swapper/0"),
    };
    EXPECT_EQ(trace(rec), want);
    EXPECT_EQ(rr.nivcsw, 0u);
    // Reloaded at the 100 and 200 ms ticks; then the ticks at 201..249 ms
    // (at 250 ms the task's work ends before the tick: resume wins ties).
    EXPECT_EQ(rr.rt.time_slice, 51);
}

std::vector<std::string> rr_and_fifo(bool fifo_first) {
    sim m({.nr_cpus = 1});
    switch_recorder rec;
    m.set_observer(&rec);
    auto fifo = [&] {
        m.spawn({.name = "fifo", .policy = sched_policy::fifo, .priority = 10}, [] { burn(msecs(250)); });
    };
    auto rr = [&] { m.spawn({.name = "rr", .policy = sched_policy::rr, .priority = 10}, [] { burn(msecs(250)); }); };
    if (fifo_first) {
        fifo();
        rr();
    } else {
        rr();
        fifo();
    }
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    return trace(rec);
}

TEST(RtRr, FifoAtTheSamePriorityIsNeverRotated) {
    const std::vector<std::string> want = {
        sw(0, "swapper/0", "fifo"), sw(msecs(250), "fifo", "rr"), sw(msecs(500), "rr", "swapper/0"),
    };
    EXPECT_EQ(rr_and_fifo(true), want);
}

TEST(RtRr, RrGivesWayToAFifoOfItsPriorityAtSliceEnd) {
    // The RR slice ends at 100 ms with the FIFO task queued behind: the RR
    // task goes to the tail and the FIFO task then runs to completion.
    const std::vector<std::string> want = {
        sw(0, "swapper/0", "rr"), sw(msecs(100), "rr", "fifo"), sw(msecs(350), "fifo", "rr"),
        sw(msecs(500), "rr", "swapper/0"),
    };
    EXPECT_EQ(rr_and_fifo(false), want);
}

}  // namespace
}  // namespace kp
