// Tasklets: where and when they run (HI before TASKLET, at the scheduling
// irq's exit), scheduling once however often, rescheduling from the
// callback, disabling, never running on two CPUs at once, tasklet_kill.
//
// One CPU unless said, HZ 1000 (a tick every 1 ms), zero costs, so every
// instant below is exact.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernel/irq/tasklet.h"
#include "kpreempt/kpreempt.h"

namespace kp {
namespace {

// One run of a callback: when, on which CPU and task, with which count.
struct run_record {
    nsec_t time;
    int cpu;
    int pid;
    std::uint32_t count;
};

run_record here(sim& m) { return {m.now(), smp_processor_id(), current().pid, preempt_count()}; }

softirq_cpu& sirq(sim& m, int cpu = 0) { return m.kern().cpu(cpu).softirq; }
tasklet_cpu& tasklets(sim& m, int cpu = 0) { return m.kern().cpu(cpu).tasklets; }

// A device line whose hardirq handler runs `fn`.
void on_irq(sim& m, int irq, std::function<void()> fn) {
    m.request_irq(irq, "dev" + std::to_string(irq), std::move(fn));
}

TEST(Tasklet, ScheduledFromHardirqRunsAtThatIrqExitInTaskletSoftirq) {
    sim m;
    tasklet_struct t;
    std::vector<run_record> runs;
    bool serving = false;
    tasklet_setup(t, [&](tasklet_struct&) {
        runs.push_back(here(m));
        serving = in_serving_softirq();
        burn(usecs(50));
    });
    unsigned long state_in_irq = 0;
    std::uint32_t pending_in_irq = 0;
    on_irq(m, 1, [&] {
        tasklet_schedule(t);
        state_in_irq = t.state.load();
        pending_in_irq = local_softirq_pending();
    });
    m.raise_irq(usecs(500), 0, 1);
    task_struct& u = m.spawn({.name = "user"}, [] { burn(msecs(2)); });
    m.run(secs(1));
    EXPECT_EQ(state_in_irq, 1ul << TASKLET_STATE_SCHED);
    EXPECT_EQ(pending_in_irq, 1u << TASKLET_SOFTIRQ);
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].time, usecs(500));
    EXPECT_EQ(runs[0].pid, u.pid);  // on the interrupted task, at its irq exit
    EXPECT_EQ(runs[0].count, SOFTIRQ_OFFSET);
    EXPECT_TRUE(serving);
    EXPECT_EQ(t.state.load(), 0ul);  // neither SCHED nor RUN once done
    EXPECT_EQ(sirq(m).count[TASKLET_SOFTIRQ], 1u);
    EXPECT_EQ(sirq(m).count[HI_SOFTIRQ], 0u);
    EXPECT_EQ(sirq(m).time[TASKLET_SOFTIRQ], usecs(50));
    EXPECT_EQ(tasklets(m).runs, 1u);
    EXPECT_EQ(tasklets(m).hi_runs, 0u);
    EXPECT_EQ(u.exit_time, usecs(2050));
}

// Scheduled in the order normal, NET_RX, hi; served in vector order: HI (0),
// NET_RX (3), TASKLET (6).
TEST(Tasklet, HiTaskletsRunFirstInHiSoftirq) {
    sim m;
    std::vector<std::string> order;
    tasklet_struct normal, hi;
    tasklet_setup(normal, [&](tasklet_struct&) { order.push_back(in_serving_softirq() ? "normal" : "?"); });
    tasklet_setup(hi, [&](tasklet_struct&) { order.push_back(in_serving_softirq() ? "hi" : "?"); });
    open_softirq(m.kern(), NET_RX_SOFTIRQ, [&] { order.push_back("net_rx"); });
    on_irq(m, 1, [&] {
        tasklet_schedule(normal);
        raise_softirq_irqoff(NET_RX_SOFTIRQ);
        tasklet_hi_schedule(hi);
    });
    m.raise_irq(usecs(500), 0, 1);
    m.spawn({.name = "user"}, [] { burn(msecs(1)); });
    m.run(secs(1));
    EXPECT_EQ(order, (std::vector<std::string>{"hi", "net_rx", "normal"}));
    EXPECT_EQ(sirq(m).count[HI_SOFTIRQ], 1u);
    EXPECT_EQ(tasklets(m).hi_runs, 1u);
    EXPECT_EQ(tasklets(m).runs, 1u);
}

// SCHED is set by the first call: the others, tasklet_hi_schedule too, do
// nothing. Once it has run it can be scheduled again (the irq at 0.6 ms).
// tasklet_init's data reaches the function.
TEST(Tasklet, SchedulingTwiceBeforeItRunsRunsItOnce) {
    sim m;
    tasklet_struct t;
    std::vector<nsec_t> runs;
    unsigned long seen_data = 0;
    tasklet_init(
        t,
        [&](unsigned long data) {
            runs.push_back(m.now());
            seen_data = data;
        },
        42);
    on_irq(m, 1, [&] {
        tasklet_schedule(t);
        tasklet_schedule(t);
        tasklet_hi_schedule(t);
    });
    m.raise_irq(usecs(500), 0, 1);
    m.raise_irq(usecs(600), 0, 1);
    m.spawn({.name = "user"}, [] { burn(msecs(1)); });
    m.run(secs(1));
    EXPECT_EQ(runs, (std::vector<nsec_t>{usecs(500), usecs(600)}));
    EXPECT_EQ(seen_data, 42ul);
    EXPECT_EQ(tasklets(m).runs, 2u);
    EXPECT_EQ(tasklets(m).hi_runs, 0u);
    EXPECT_EQ(sirq(m).count[TASKLET_SOFTIRQ], 2u);
    EXPECT_EQ(sirq(m).count[HI_SOFTIRQ], 0u);  // hi scheduling of a scheduled tasklet raised nothing
}

// SCHED is cleared before the callback, so the callback can schedule its
// own tasklet; it goes on the list the running action has already taken,
// so it runs in the restart loop's next round, after NET_RX's (which
// re-raises itself the same way). Three rounds at the irq exit, nothing
// left for ksoftirqd.
TEST(Tasklet, RescheduledFromItsOwnCallbackRunsInTheNextRound) {
    sim m;
    std::vector<std::pair<std::string, nsec_t>> log;
    tasklet_struct t;
    int t_runs = 0;
    tasklet_setup(t, [&](tasklet_struct& self) {
        log.push_back({"tasklet", m.now()});
        burn(usecs(10));
        if (++t_runs < 3) tasklet_schedule(self);
    });
    int net_runs = 0;
    open_softirq(m.kern(), NET_RX_SOFTIRQ, [&] {
        log.push_back({"net_rx", m.now()});
        if (++net_runs < 3) raise_softirq(NET_RX_SOFTIRQ);
    });
    on_irq(m, 1, [&] {
        tasklet_schedule(t);
        raise_softirq_irqoff(NET_RX_SOFTIRQ);
    });
    m.raise_irq(usecs(500), 0, 1);
    task_struct& u = m.spawn({.name = "user"}, [] { burn(msecs(1)); });
    m.run(secs(1));
    const std::vector<std::pair<std::string, nsec_t>> want = {
        {"net_rx", usecs(500)}, {"tasklet", usecs(500)}, {"net_rx", usecs(510)},
        {"tasklet", usecs(510)}, {"net_rx", usecs(520)}, {"tasklet", usecs(520)}};
    EXPECT_EQ(log, want);
    EXPECT_EQ(sirq(m).count[TASKLET_SOFTIRQ], 3u);  // one action per round
    EXPECT_EQ(sirq(m).restarts_exhausted, 0u);
    EXPECT_EQ(sirq(m).ksoftirqd->first_run, -1);
    EXPECT_EQ(u.exit_time, usecs(1030));
}

// An RT task disables the tasklet from 0 to 2.5 ms. Scheduled by the irq at
// 0.5 ms, it is put back and TASKLET re-raised in every round: 10 rounds at
// that irq's exit and at each tick's (1, 2 ms), then ksoftirqd is woken but
// cannot run under the RT task. Enabled at 2.5 ms, it runs at the next
// softirq: ksoftirqd's, when the RT task exits at 2.7 ms.
TEST(Tasklet, DisabledTaskletIsDeferredUntilEnabledAndTheNextSoftirq) {
    sim m;
    tasklet_struct t;
    std::vector<run_record> runs;
    tasklet_setup(t, [&](tasklet_struct&) { runs.push_back(here(m)); });
    on_irq(m, 1, [&] { tasklet_schedule(t); });
    m.raise_irq(usecs(500), 0, 1);
    int count_while_disabled = -1;
    task_struct& rt = m.spawn({.name = "rt", .policy = sched_policy::fifo, .priority = 50, .kthread = true}, [&] {
        tasklet_disable(t);
        count_while_disabled = t.count.load();
        burn(usecs(2500));
        tasklet_enable(t);
        burn(usecs(200));
    });
    m.run(secs(1));
    EXPECT_EQ(count_while_disabled, 1);
    EXPECT_EQ(rt.exit_time, usecs(2700));
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].time, usecs(2700));
    EXPECT_EQ(runs[0].pid, sirq(m).ksoftirqd->pid);
    EXPECT_EQ(tasklets(m).requeued, 30u);
    EXPECT_EQ(sirq(m).count[TASKLET_SOFTIRQ], 31u);
    EXPECT_EQ(sirq(m).restarts_exhausted, 3u);
    EXPECT_EQ(sirq(m).ksoftirqd->first_run, usecs(2700));
    EXPECT_EQ(t.count.load(), 0);
    EXPECT_EQ(t.state.load(), 0ul);
}

// Two CPUs. The tasklet runs on CPU 0 from 0.5 to 0.7 ms; CPU 1 schedules it
// again at 0.6 ms (SCHED was cleared before the callback), but its softirq
// finds RUN held: 10 rounds put it back, ksoftirqd/1 cannot run under the RT
// task, and CPU 1's tick at 1 ms runs it, after CPU 0 is done.
TEST(Tasklet, NeverRunsOnTwoCpusAtOnce) {
    sim m({.nr_cpus = 2});
    tasklet_struct t;
    std::vector<run_record> runs;
    int running = 0, max_running = 0;
    tasklet_setup(t, [&](tasklet_struct&) {
        max_running = std::max(max_running, ++running);
        runs.push_back(here(m));
        burn(usecs(200));
        --running;
    });
    on_irq(m, 1, [&] { tasklet_schedule(t); });
    m.raise_irq(usecs(500), 0, 1);
    m.raise_irq(usecs(600), 1, 1);
    task_struct& rt = m.spawn(
        {.name = "rt", .policy = sched_policy::fifo, .priority = 50, .cpus = {1}, .kthread = true, .cpu = 1},
        [] { burn(msecs(2)); });
    m.run(secs(1));
    ASSERT_EQ(runs.size(), 2u);
    EXPECT_EQ(runs[0].time, usecs(500));
    EXPECT_EQ(runs[0].cpu, 0);
    EXPECT_EQ(runs[1].time, msecs(1));
    EXPECT_EQ(runs[1].cpu, 1);
    EXPECT_EQ(runs[1].pid, rt.pid);  // the tick's irq exit, on the RT task
    EXPECT_EQ(max_running, 1);
    EXPECT_EQ(tasklets(m, 1).requeued, 10u);
    EXPECT_EQ(tasklets(m, 0).runs, 1u);
    EXPECT_EQ(tasklets(m, 1).runs, 1u);
    EXPECT_EQ(sirq(m, 1).restarts_exhausted, 1u);
}

// tasklet_disable waits for a callback running on another CPU (0.5-0.7 ms
// on CPU 0): called on CPU 1 at 0.6 ms, it returns at 0.7 ms.
TEST(Tasklet, DisableWaitsForTheRunningCallback) {
    sim m({.nr_cpus = 2});
    tasklet_struct t;
    tasklet_setup(t, [](tasklet_struct&) { burn(usecs(200)); });
    on_irq(m, 1, [&] { tasklet_schedule(t); });
    m.raise_irq(usecs(500), 0, 1);
    nsec_t disabled_at = -1;
    bool running_after = true;
    m.spawn({.name = "k", .cpus = {1}, .kthread = true, .cpu = 1}, [&] {
        burn(usecs(600));
        tasklet_disable_guard off{t};
        disabled_at = m.now();
        running_after = (t.state.load() >> TASKLET_STATE_RUN) & 1;
    });
    m.run(secs(1));
    EXPECT_EQ(disabled_at, usecs(700));
    EXPECT_FALSE(running_after);
    EXPECT_EQ(t.count.load(), 0);  // the guard enabled it again
}

// tasklet_kill waits while the tasklet is scheduled: scheduled from task
// context at 0.2 ms (ksoftirqd is woken), killed at once; ksoftirqd runs it
// when the killer sleeps (0.2-0.3 ms) and the kill returns at 0.3 ms.
TEST(Tasklet, KillWaitsUntilScheduledTaskletHasRun) {
    sim m;
    tasklet_struct t;
    std::vector<run_record> runs;
    tasklet_setup(t, [&](tasklet_struct&) {
        runs.push_back(here(m));
        burn(usecs(100));
    });
    nsec_t killed_at = -1;
    m.spawn({.name = "killer", .kthread = true}, [&] {
        burn(usecs(200));
        tasklet_schedule(t);
        tasklet_kill(t);
        killed_at = m.now();
    });
    m.run(secs(1));
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].time, usecs(200));
    EXPECT_EQ(runs[0].pid, sirq(m).ksoftirqd->pid);
    EXPECT_EQ(killed_at, usecs(300));
    EXPECT_EQ(t.state.load(), 0ul);
    EXPECT_EQ(m.log().count("Attempt to kill tasklet from interrupt"), 0u);
}

// A queued tasklet whose SCHED bit someone else cleared is not run, and the
// WARN is printed once per machine.
TEST(Tasklet, SchedStateNotSetWarnsOnceAndSkipsTheCallback) {
    sim m;
    tasklet_struct t;
    int runs = 0;
    tasklet_setup(t, [&](tasklet_struct&) { ++runs; });
    on_irq(m, 1, [&] {
        tasklet_schedule(t);
        t.state &= ~(1ul << TASKLET_STATE_SCHED);
    });
    m.raise_irq(usecs(500), 0, 1);
    m.raise_irq(usecs(600), 0, 1);
    task_struct& u = m.spawn({.name = "user"}, [] { burn(msecs(1)); });
    m.run(secs(1));
    EXPECT_EQ(runs, 0);
    EXPECT_EQ(m.log().count("tasklet SCHED state not set: callback"), 1u);
    const std::string warning =
        "WARNING: CPU: 0 PID: " + std::to_string(u.pid) + " at kernel/softirq.c tasklet_clear_sched";
    EXPECT_EQ(m.log().count(warning), 1u);
    EXPECT_EQ(sirq(m).count[TASKLET_SOFTIRQ], 2u);
}

}  // namespace
}  // namespace kp
