// Several CPUs (spec 2.3, 6.1): a cross-CPU wakeup reaches its target
// through the reschedule IPI; select_task_rq places a wakee on an idle CPU;
// affinity is never broken; an idle CPU pulls queued work
// (sched_balance_newidle) and the periodic balance spreads a pile of tasks.
//
// HZ 1000 and zero costs unless a test sets one: times are exact.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "kernel/sched/core.h"
#include "kernel/sched/rq_lock.h"
#include "kpreempt/kpreempt.h"
#include "test_util.h"

namespace kp {
namespace {

struct migration {
    nsec_t time;
    int pid;
    int from;
    int to;
    bool operator==(const migration&) const = default;
};

std::ostream& operator<<(std::ostream& os, const migration& m) {
    return os << "{t=" << m.time << " pid=" << m.pid << " " << m.from << "->" << m.to << "}";
}

// switch_recorder plus the migrations.
class smp_recorder : public switch_recorder {
public:
    void on_migrate(nsec_t time, int pid, int from, int to) override { migrations.push_back({time, pid, from, to}); }
    std::vector<migration> migrations_of(int pid) const {
        std::vector<migration> out;
        for (const auto& m : migrations)
            if (m.pid == pid) out.push_back(m);
        return out;
    }
    std::vector<migration> migrations;
};

// CPU0: a waker that, 2.5 ms in, wakes an RT task allowed only on CPU1.
// CPU1: a SCHED_NORMAL hog inside a 10 ms syscall (no preemption point of
// its own). The reschedule IPI lands inside the syscall.
struct ipi_result {
    nsec_t rt_first_run;
    preempt_point point;
    bool preempt;
    int switch_cpu;
    nsec_t hog_exit;
    sched_wakeup_event wakeup;
    std::size_t migrations;
};

void cross_cpu_wakeup(preempt_mode model, nsec_t ipi_latency, ipi_result& r) {
    sim m({.nr_cpus = 2, .hz = 1000, .model = model, .costs = {.ipi_latency = ipi_latency}});
    smp_recorder rec;
    m.set_observer(&rec);
    task_struct& rt = m.spawn(
        {.name = "rt", .policy = sched_policy::fifo, .priority = 50, .cpus = {1}, .start_stopped = true, .cpu = 1},
        [] { burn(msecs(1)); });
    task_struct& hog = m.spawn({.name = "hog", .cpus = {1}, .cpu = 1}, [] {
        syscall_section sys;
        burn(msecs(10));
    });
    m.spawn({.name = "waker", .cpus = {0}, .cpu = 0}, [&rt] {
        burn(usecs(2500));
        syscall_section sys;
        wake_up_process(rt);
    });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    const switch_record* to_rt = rec.first_switch_to(rt.pid);
    EXPECT_NE(to_rt, nullptr);
    // The spawns' wake_up_new_task come first (from outside the machine);
    // the rt task's wakeup is the last one.
    ASSERT_EQ(rec.wakeups.size(), 3u);
    EXPECT_EQ(rec.wakeups.back().pid, rt.pid);
    r = {rt.first_run, preempt_point::none, false, -1, hog.exit_time, {}, rec.migrations.size()};
    if (to_rt) {
        r.point = to_rt->point;
        r.preempt = to_rt->preempt;
        r.switch_cpu = to_rt->cpu;
        EXPECT_EQ(to_rt->prev_pid, hog.pid);
    }
    r.wakeup = rec.wakeups.back();
}

ipi_result cross_cpu_wakeup(preempt_mode model, nsec_t ipi_latency) {
    ipi_result r{};
    cross_cpu_wakeup(model, ipi_latency, r);
    return r;
}

void expect_wakeup_from_cpu0(const ipi_result& r) {
    EXPECT_EQ(r.wakeup.time, usecs(2500));
    EXPECT_EQ(r.wakeup.cpu, 0);
    EXPECT_EQ(r.wakeup.target_cpu, 1);
    EXPECT_EQ(r.switch_cpu, 1);
    EXPECT_EQ(r.migrations, 0u);
}

TEST(SmpIpi, FullPreemptsTheRemoteSyscallAtTheWakeupInstant) {
    const auto r = cross_cpu_wakeup(preempt_mode::full, 0);
    expect_wakeup_from_cpu0(r);
    EXPECT_EQ(r.rt_first_run, usecs(2500));
    EXPECT_EQ(r.point, preempt_point::irq_exit);  // the IPI's irqentry_exit
    EXPECT_TRUE(r.preempt);
    EXPECT_EQ(r.hog_exit, msecs(11));  // 10 ms of work + 1 ms of rt
}

TEST(SmpIpi, FullPreemptsExactlyOneIpiLatencyLater) {
    const auto r = cross_cpu_wakeup(preempt_mode::full, usecs(7));
    expect_wakeup_from_cpu0(r);
    EXPECT_EQ(r.rt_first_run, usecs(2507));
    EXPECT_EQ(r.point, preempt_point::irq_exit);
    EXPECT_EQ(r.hog_exit, msecs(11));
}

TEST(SmpIpi, NoneWaitsForTheHogsReturnToUser) {
    const auto r = cross_cpu_wakeup(preempt_mode::none, 0);
    expect_wakeup_from_cpu0(r);
    EXPECT_EQ(r.rt_first_run, msecs(10));
    EXPECT_EQ(r.point, preempt_point::return_to_user);
    EXPECT_FALSE(r.preempt);
    EXPECT_EQ(r.hog_exit, msecs(11));
}

TEST(SmpIpi, NoneIgnoresIpiLatency) {
    const auto r = cross_cpu_wakeup(preempt_mode::none, usecs(7));
    EXPECT_EQ(r.rt_first_run, msecs(10));
    EXPECT_EQ(r.point, preempt_point::return_to_user);
}

TEST(SmpIpi, VoluntaryWithoutMightSleepAlsoWaitsForReturnToUser) {
    const auto r = cross_cpu_wakeup(preempt_mode::voluntary, 0);
    EXPECT_EQ(r.rt_first_run, msecs(10));
    EXPECT_EQ(r.point, preempt_point::return_to_user);
}

// 4 CPUs: hogs on CPU0 and CPU1, CPUs 2 and 3 idle. The hog on CPU0 wakes
// a task that last ran (was placed) on `prev_cpu`.
struct placement {
    int cpu;
    nsec_t first_run;
    std::vector<migration> migrations;
    int wake_target;
};

placement wake_placement(int prev_cpu) {
    sim m({.nr_cpus = 4});
    smp_recorder rec;
    m.set_observer(&rec);
    task_struct& s = m.spawn({.name = "sleeper", .start_stopped = true, .cpu = prev_cpu}, [] { burn(msecs(1)); });
    m.spawn({.name = "hog0", .cpus = {0}, .cpu = 0}, [&s] {
        burn(usecs(1500));
        {
            syscall_section sys;
            wake_up_process(s);
        }
        burn(usecs(3500));
    });
    m.spawn({.name = "hog1", .cpus = {1}, .cpu = 1}, [] { burn(msecs(5)); });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    int cpu = -1;
    for (const auto& sw : rec.switches)
        if (sw.next_pid == s.pid) {
            EXPECT_TRUE(cpu == -1 || cpu == sw.cpu) << "sleeper ran on two CPUs";
            cpu = sw.cpu;
        }
    const int target = rec.wakeups.empty() ? -1 : rec.wakeups.back().target_cpu;
    return {cpu, s.first_run, rec.migrations_of(s.pid), target};
}

TEST(SmpPlacement, WakeeGoesToTheFirstIdleCpuAfterItsBusyPrevCpu) {
    // prev CPU 0 runs hog0, CPU 1 runs hog1: select_idle_sibling scans on
    // to CPU 2, which takes the task at once (the IPI wakes its idle loop).
    const auto p = wake_placement(0);
    EXPECT_EQ(p.cpu, 2);
    EXPECT_EQ(p.wake_target, 2);
    EXPECT_EQ(p.first_run, usecs(1500));
    const std::vector<migration> want = {{usecs(1500), p.migrations.empty() ? 0 : p.migrations[0].pid, 0, 2}};
    EXPECT_EQ(p.migrations, want);
}

TEST(SmpPlacement, AnIdlePrevCpuIsKept) {
    // CPU 3 is idle: the wakee stays where it was (no migration).
    const auto p = wake_placement(3);
    EXPECT_EQ(p.cpu, 3);
    EXPECT_EQ(p.wake_target, 3);
    EXPECT_EQ(p.first_run, usecs(1500));
    EXPECT_TRUE(p.migrations.empty());
}

TEST(SmpAffinity, APinnedTaskNeverRunsElsewhere) {
    sim m({.nr_cpus = 4});
    smp_recorder rec;
    m.set_observer(&rec);
    // Eight hogs allowed everywhere: four land on idle CPUs, four pile up on
    // CPU 0, and the balancer then moves tasks around, CPU 2 included.
    for (int i = 0; i < 8; ++i) m.spawn({.name = "hog" + std::to_string(i)}, [] { burn(secs(1)); });
    int loops = 0;
    task_struct& pinned = m.spawn({.name = "pinned", .cpus = {2}, .cpu = 2}, [&loops] {
        for (; loops < 20; ++loops) {
            burn(msecs(1));
            msleep(1);  // every wakeup goes through select_task_rq
        }
    });
    EXPECT_EQ(m.run(msecs(200)), sim_machine::stop_reason::time_limit);
    EXPECT_EQ(loops, 20);  // it did run, and finished
    EXPECT_NE(pinned.exit_time, -1);
    int runs = 0;
    for (const auto& sw : rec.switches) {
        if (sw.next_pid == pinned.pid || sw.prev_pid == pinned.pid) {
            EXPECT_EQ(sw.cpu, 2) << "at " << sw.time;
            ++runs;
        }
    }
    EXPECT_GE(runs, 40);  // in and out at least once per loop
    EXPECT_TRUE(rec.migrations_of(pinned.pid).empty());
    // The others were balanced, CPU 2's runqueue included, while the pinned
    // task stayed put.
    bool cpu2_balanced = false;
    for (const auto& mg : rec.migrations) cpu2_balanced |= mg.from == 2 || mg.to == 2;
    EXPECT_TRUE(cpu2_balanced);
}

TEST(SmpBalance, IdleCpuPullsAQueuedTask) {
    sim m({.nr_cpus = 2});
    smp_recorder rec;
    m.set_observer(&rec);
    // X occupies CPU 1, so A, B and C are all placed on CPU 0 (A runs, B
    // and C queue). When X exits at 0.5 ms, before any periodic balance,
    // CPU 1 finds nothing and pulls the first queued task from CPU 0.
    task_struct& x = m.spawn({.name = "X", .cpus = {1}, .cpu = 1}, [] { burn(usecs(500)); });
    task_struct& a = m.spawn({.name = "A"}, [] { burn(msecs(20)); });
    task_struct& b = m.spawn({.name = "B"}, [] { burn(msecs(20)); });
    task_struct& c = m.spawn({.name = "C"}, [] { burn(msecs(20)); });
    EXPECT_EQ(a.cpu, 0);
    EXPECT_EQ(b.cpu, 0);
    EXPECT_EQ(c.cpu, 0);
    EXPECT_EQ(m.run(msecs(20)), sim_machine::stop_reason::time_limit);
    const std::vector<migration> want = {{usecs(500), b.pid, 0, 1}};
    EXPECT_EQ(rec.migrations, want);
    const switch_record* to_b = rec.first_switch_to(b.pid);
    ASSERT_NE(to_b, nullptr);
    EXPECT_EQ(to_b->time, usecs(500));
    EXPECT_EQ(to_b->cpu, 1);
    EXPECT_EQ(to_b->prev_pid, x.pid);  // straight from X's exit, no idle in between
    EXPECT_EQ(x.exit_time, usecs(500));
    // With 2 : 1 the imbalance is below the threshold: nothing else moved.
    EXPECT_EQ(a.cpu, 0);
    EXPECT_EQ(c.cpu, 0);
}

TEST(SmpBalance, PeriodicBalanceSpreadsEightTasksOverFourCpus) {
    sim m({.nr_cpus = 4});
    smp_recorder rec;
    m.set_observer(&rec);
    std::vector<task_struct*> ts;
    for (int i = 0; i < 8; ++i)
        ts.push_back(&m.spawn({.name = "t" + std::to_string(i), .cpus = {0}}, [] { burn(secs(1)); }));
    // All eight start on CPU 0; at t = 0 a FIFO task opens their affinity
    // to every CPU (set_cpus_allowed_ptr leaves queued tasks where they are
    // while their CPU stays allowed), so only the balancer can move them.
    m.spawn({.name = "setup", .policy = sched_policy::fifo, .priority = 99, .cpus = {0}}, [&ts] {
        cpumask all;
        for (int c = 0; c < 4; ++c) all.set(static_cast<std::size_t>(c));
        for (task_struct* p : ts) set_cpus_allowed_ptr(*p, all);
    });
    for (const task_struct* p : ts) EXPECT_EQ(p->cpu, 0);
    EXPECT_EQ(m.run(msecs(20)), sim_machine::stop_reason::time_limit);
    EXPECT_TRUE(rec.migrations.empty() || rec.migrations.front().time > 0);

    // Balanced: two tasks per CPU.
    std::array<int, 4> per_cpu{};
    for (const task_struct* p : ts) ++per_cpu[static_cast<std::size_t>(p->cpu)];
    EXPECT_EQ(per_cpu, (std::array<int, 4>{2, 2, 2, 2}));
    // Six moves, one per tick, each off the pile on CPU 0. CPU c balances
    // when (jiffies + c) % 4 == 0; INITIAL_JIFFIES is 0 mod 4 and CPU 0's
    // tick bumps jiffies first, so CPU 3 pulls at 1 ms, CPU 2 at 2 ms,
    // CPU 1 at 3 ms (CPU 0 at 4 ms finds no busier CPU), and again.
    ASSERT_EQ(rec.migrations.size(), 6u);
    const std::array<std::pair<nsec_t, int>, 6> want = {
        {{msecs(1), 3}, {msecs(2), 2}, {msecs(3), 1}, {msecs(5), 3}, {msecs(6), 2}, {msecs(7), 1}}};
    for (std::size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(rec.migrations[i].time, want[i].first) << rec.migrations[i];
        EXPECT_EQ(rec.migrations[i].from, 0) << rec.migrations[i];
        EXPECT_EQ(rec.migrations[i].to, want[i].second) << rec.migrations[i];
        for (std::size_t j = 0; j < i; ++j) EXPECT_NE(rec.migrations[i].pid, rec.migrations[j].pid);
    }

    // Each CPU idled only until its first pull; from then on no CPU idles
    // and nothing moves.
    std::array<nsec_t, 4> idle_then{};
    for (int c = 0; c < 4; ++c) idle_then[std::size_t(c)] = m.kern().cpu(c).acct.bucket[int(cpu_bucket::idle)];
    EXPECT_EQ(idle_then, (std::array<nsec_t, 4>{0, msecs(3), msecs(2), msecs(1)}));
    EXPECT_EQ(m.run(msecs(100)), sim_machine::stop_reason::time_limit);
    for (int c = 0; c < 4; ++c)
        EXPECT_EQ(m.kern().cpu(c).acct.bucket[int(cpu_bucket::idle)], idle_then[std::size_t(c)]) << "cpu " << c;
    EXPECT_EQ(rec.migrations.size(), 6u);
    for (const task_struct* p : ts) EXPECT_GT(p->utime, msecs(40)) << p->comm;  // 2 per CPU: ~50 ms of 100
}

// __task_rq_lock (task_rq_lock's core): a task's CPU may change while the
// caller waits for the lock of the runqueue it read; under the lock the CPU
// is checked again and the right runqueue's lock taken. Here CPU 1 holds
// both runqueues' locks and moves a sleeping task from CPU 0 to CPU 1 (as a
// migration does) while CPU 2 waits for runqueue 0's lock on its behalf.
TEST(SmpLocking, TaskRqLockFollowsATaskMovedWhileItWaited) {
    sim m({.nr_cpus = 3});
    task_struct& sleeper = m.spawn({.name = "sleeper", .cpu = 0}, [] { msleep(10); });
    int locked_cpu = -1;
    nsec_t locked_at = -1;
    m.spawn({.name = "mover", .cpus = {1}, .kthread = true, .cpu = 1}, [&] {
        burn(usecs(100));  // the sleeper is asleep by now
        irq_guard irqs_off;
        double_rq_lock(cpu_rq(m.kern(), 0), cpu_rq(m.kern(), 1));
        burn(usecs(50));  // CPU 2 comes to runqueue 0's lock meanwhile
        set_task_cpu(sleeper, 1);
        double_rq_unlock(cpu_rq(m.kern(), 0), cpu_rq(m.kern(), 1));
    });
    m.spawn({.name = "locker", .cpus = {2}, .kthread = true, .cpu = 2}, [&] {
        burn(usecs(120));
        irq_guard irqs_off;
        rq& rq = __task_rq_lock(sleeper);
        locked_cpu = rq.cpu;
        locked_at = m.now();
        raw_spin_unlock_no_resched(rq.lock);
    });
    m.run(msecs(20));
    EXPECT_EQ(locked_cpu, 1);
    EXPECT_EQ(locked_at, usecs(150));
}

}  // namespace
}  // namespace kp
