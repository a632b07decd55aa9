// The seed notes' diagram (seeds/002): when does a high-priority task woken
// by an interrupt get the CPU from a task inside a long syscall?
//
// One CPU, HZ 1000, zero costs. TaskA (SCHED_NORMAL) burns 1 ms in user
// mode, then makes one syscall of 10 chunks, each `burn 1 ms; might_sleep()`.
// A device interrupt at 2.5 ms runs a 0.1 ms handler that wakes TaskB
// (SCHED_FIFO 50, blocked until then), which burns 2 ms.
//   FULL:      irq return to kernel preempts        -> 2.6 ms
//   VOLUNTARY: the next might_sleep() (chunk end)   -> 3.1 ms
//   NONE:      only the return to user at 11.1 ms   -> 11.1 ms
#include <gtest/gtest.h>

#include "kpreempt/kpreempt.h"
#include "test_util.h"

namespace kp {
namespace {

struct diagram_result {
    nsec_t taskb_first_run;
    nsec_t taska_exit;
    nsec_t taskb_exit;
    preempt_point point;  // how TaskA lost the CPU to TaskB
};

diagram_result run_diagram(preempt_mode model) {
    sim m({.nr_cpus = 1, .hz = 1000, .model = model});
    switch_recorder rec;
    m.set_observer(&rec);
    auto [a, b] = spawn_seed_diagram(m);
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    const switch_record* to_b = rec.first_switch_to(b.pid);
    EXPECT_NE(to_b, nullptr);
    return {b.first_run, a.exit_time, b.exit_time, to_b ? to_b->point : preempt_point::none};
}

TEST(SeedDiagram, FullPreemptsAtIrqReturn) {
    const auto r = run_diagram(preempt_mode::full);
    EXPECT_EQ(r.taskb_first_run, usecs(2600));
    EXPECT_EQ(r.point, preempt_point::irq_exit);
    EXPECT_EQ(r.taskb_exit, usecs(4600));
    EXPECT_EQ(r.taska_exit, usecs(13100));  // 11 ms of work + 0.1 ms irq + 2 ms of TaskB
}

TEST(SeedDiagram, VoluntaryPreemptsAtMightSleep) {
    const auto r = run_diagram(preempt_mode::voluntary);
    EXPECT_EQ(r.taskb_first_run, usecs(3100));
    EXPECT_EQ(r.point, preempt_point::might_resched);
    EXPECT_EQ(r.taskb_exit, usecs(5100));
    EXPECT_EQ(r.taska_exit, usecs(13100));
}

TEST(SeedDiagram, NonePreemptsOnlyAtReturnToUser) {
    const auto r = run_diagram(preempt_mode::none);
    EXPECT_EQ(r.taskb_first_run, usecs(11100));
    EXPECT_EQ(r.point, preempt_point::return_to_user);
    EXPECT_EQ(r.taskb_exit, usecs(13100));
    EXPECT_EQ(r.taska_exit, usecs(13100));  // TaskA's exit syscall follows at once
}

}  // namespace
}  // namespace kp
