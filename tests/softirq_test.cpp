// Softirqs and ksoftirqd: where and when softirqs run, the restart loop's
// three bounds, bottom-half sections, the context predicates, accounting.
//
// One CPU unless said, HZ 1000 (a tick every 1 ms, jiffies + 1 at each),
// zero costs, so every instant below is exact.
#include <gtest/gtest.h>

#include <vector>

#include "kernel/irq/bottom_half.h"
#include "kernel/sched/cputime.h"
#include "kpreempt/kpreempt.h"
#include "test_util.h"

namespace kp {
namespace {

// One run of a softirq handler: when, on which task, with which count.
struct run_record {
    nsec_t time;
    int pid;
    std::uint32_t count;
};

run_record here(sim& m) { return {m.now(), current().pid, preempt_count()}; }

softirq_cpu& sirq(sim& m, int cpu = 0) { return m.kern().cpu(cpu).softirq; }
task_struct& ksoftirqd(sim& m, int cpu = 0) { return *sirq(m, cpu).ksoftirqd; }
nsec_t bucket(sim& m, cpu_bucket b, int cpu = 0) { return m.kern().cpu(cpu).acct.bucket[static_cast<int>(b)]; }
nsec_t bucket_sum(sim& m, int cpu = 0) {
    nsec_t sum = 0;
    for (int b = 0; b < static_cast<int>(cpu_bucket::count); ++b) sum += m.kern().cpu(cpu).acct.bucket[b];
    return sum;
}

// A device line whose hardirq handler raises `nr` (irqs are off there).
void irq_raising(sim& m, int irq, unsigned nr, std::function<void()> also = {}) {
    m.request_irq(irq, "dev" + std::to_string(irq), [nr, also] {
        raise_softirq_irqoff(nr);
        if (also) also();
    });
}

// Keeps the machine running (a live task) while the CPU is otherwise idle.
void spawn_sleeper(sim& m, unsigned ms) {
    m.spawn({.name = "sleeper", .kthread = true}, [ms] { msleep(ms); });
}

TEST(Softirq, VectorsInLinuxOrderAndKsoftirqdPerCpu) {
    EXPECT_EQ(NR_SOFTIRQS, 10u);
    EXPECT_STREQ(softirq_to_name[HI_SOFTIRQ], "HI");
    EXPECT_STREQ(softirq_to_name[NET_RX_SOFTIRQ], "NET_RX");
    EXPECT_EQ(NET_RX_SOFTIRQ, 3u);
    EXPECT_STREQ(softirq_to_name[RCU_SOFTIRQ], "RCU");
    sim m({.nr_cpus = 2});
    for (int c = 0; c < 2; ++c) {
        task_struct& k = ksoftirqd(m, c);
        EXPECT_EQ(k.comm, "ksoftirqd/" + std::to_string(c));
        EXPECT_EQ(k.pid, c + 1);  // made at boot, before any task of the workload
        EXPECT_EQ(k.policy, sched_policy::normal);
        EXPECT_TRUE(k.is_kthread());
        EXPECT_EQ(k.nr_cpus_allowed, 1);
        EXPECT_TRUE(k.cpus_mask.test(static_cast<std::size_t>(c)));
    }
    EXPECT_EQ(m.kern().nr_live_tasks(), 0u);  // the machine does not wait for them
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(m.now(), 0);
}

// A handler that re-raises itself (15 runs in all, 10 us each): the irq exit
// at 0.5 ms serves 10 rounds (0.5-0.6 ms) and hands the rest to ksoftirqd,
// which runs at once on the idle CPU.
TEST(Softirq, TenRestartsThenKsoftirqd) {
    sim m;
    spawn_sleeper(m, 5);
    std::vector<run_record> runs;
    open_softirq(m.kern(), NET_RX_SOFTIRQ, [&] {
        runs.push_back(here(m));
        burn(usecs(10));
        if (runs.size() < 15) raise_softirq(NET_RX_SOFTIRQ);
    });
    irq_raising(m, 1, NET_RX_SOFTIRQ);
    m.raise_irq(usecs(500), 0, 1);
    m.run(msecs(3));
    ASSERT_EQ(runs.size(), 15u);
    const int k = ksoftirqd(m).pid;
    for (std::size_t i = 0; i < 15; ++i) {
        EXPECT_EQ(runs[i].time, usecs(500) + static_cast<nsec_t>(i) * usecs(10)) << i;
        EXPECT_EQ(runs[i].pid, i < 10 ? 0 : k) << i;  // the idle task's irq exit, then ksoftirqd/0
    }
    EXPECT_EQ(ksoftirqd(m).first_run, usecs(600));
    EXPECT_EQ(sirq(m).restarts_exhausted, 1u);
    EXPECT_EQ(sirq(m).time_exhausted, 0u);
    EXPECT_EQ(sirq(m).count[NET_RX_SOFTIRQ], 15u);
    // Accounting: all 150 us are softirq time; ksoftirqd's 50 us are also its
    // own stime and not irq time for clock_task.
    EXPECT_EQ(bucket(m, cpu_bucket::softirq), usecs(150));
    EXPECT_EQ(sirq(m).time[NET_RX_SOFTIRQ], usecs(150));
    EXPECT_EQ(ksoftirqd(m).stime, usecs(50));
    EXPECT_EQ(m.kern().cpu(0).acct.ksoftirqd, usecs(50));
    EXPECT_EQ(m.kern().cpu(0).acct.irq_total(), usecs(100));
    EXPECT_EQ(bucket_sum(m), m.now());
}

// Handlers of 300 us: the time bound ends the loop first. MAX_SOFTIRQ_TIME
// is msecs_to_jiffies(2) = 2 jiffies, counted in jiffies as Linux does:
// raised at 0.5 ms (jiffies j0), rounds go on while jiffies < j0 + 2, i.e.
// until the tick at 2 ms. The round ending at 2.0 ms finishes before that
// tick (work ends before an interrupt at the same instant), so one more
// round starts: 6 rounds, 0.5-2.3 ms, then ksoftirqd (end j0 + 4: rounds
// until the one covering the 4 ms tick).
TEST(Softirq, TwoMillisecondsThenKsoftirqd) {
    sim m;
    spawn_sleeper(m, 20);
    std::vector<run_record> runs;
    open_softirq(m.kern(), NET_RX_SOFTIRQ, [&] {
        runs.push_back(here(m));
        burn(usecs(300));
        if (runs.size() < 12) raise_softirq(NET_RX_SOFTIRQ);
    });
    irq_raising(m, 1, NET_RX_SOFTIRQ);
    m.raise_irq(usecs(500), 0, 1);
    m.run(msecs(10));
    ASSERT_EQ(runs.size(), 12u);
    const int k = ksoftirqd(m).pid;
    for (std::size_t i = 0; i < 12; ++i) {
        EXPECT_EQ(runs[i].time, usecs(500) + static_cast<nsec_t>(i) * usecs(300)) << i;
        EXPECT_EQ(runs[i].pid, i < 6 ? 0 : k) << i;
    }
    EXPECT_EQ(ksoftirqd(m).first_run, usecs(2300));
    EXPECT_EQ(sirq(m).time_exhausted, 1u);
    EXPECT_EQ(sirq(m).restarts_exhausted, 0u);
    EXPECT_EQ(sirq(m).time[NET_RX_SOFTIRQ], usecs(3600));
}

// bh disabled at 0: NET_RX raised from the task at 0.1 ms (no ksoftirqd:
// in_interrupt() is true), NET_TX from a hardirq at 0.15 ms (not served at
// that irq's exit); an inner enable at 0.2 ms serves nothing; the outermost
// enable at 0.3 ms serves both, NET_TX (2) before NET_RX (3).
TEST(Softirq, PendingRunsAtOutermostLocalBhEnable) {
    sim m;
    std::vector<std::pair<unsigned, run_record>> runs;
    open_softirq(m.kern(), NET_TX_SOFTIRQ, [&] { runs.push_back({NET_TX_SOFTIRQ, here(m)}); });
    open_softirq(m.kern(), NET_RX_SOFTIRQ, [&] { runs.push_back({NET_RX_SOFTIRQ, here(m)}); });
    irq_raising(m, 1, NET_TX_SOFTIRQ);
    m.raise_irq(usecs(150), 0, 1);
    std::size_t after_inner = 99;
    std::uint32_t pending_after_inner = 0;
    task_struct& t = m.spawn({.name = "bh", .kthread = true}, [&] {
        {
            bh_guard outer;
            burn(usecs(100));
            raise_softirq(NET_RX_SOFTIRQ);
            burn(usecs(50));
            {
                bh_guard inner;
                burn(usecs(50));
            }
            after_inner = runs.size();
            pending_after_inner = local_softirq_pending();
            burn(usecs(100));
        }
        burn(usecs(100));
    });
    m.run(secs(1));
    EXPECT_EQ(after_inner, 0u);
    EXPECT_EQ(pending_after_inner, (1u << NET_TX_SOFTIRQ) | (1u << NET_RX_SOFTIRQ));
    ASSERT_EQ(runs.size(), 2u);
    EXPECT_EQ(runs[0].first, NET_TX_SOFTIRQ);
    EXPECT_EQ(runs[1].first, NET_RX_SOFTIRQ);
    for (const auto& [nr, r] : runs) {
        EXPECT_EQ(r.time, usecs(300));
        EXPECT_EQ(r.pid, t.pid);
        EXPECT_EQ(r.count, SOFTIRQ_OFFSET + PREEMPT_OFFSET);  // preemption stays off while serving
    }
    EXPECT_EQ(ksoftirqd(m).first_run, -1);
    EXPECT_EQ(t.exit_time, usecs(400));
}

// At 0.5 ms an irq on the user task raises NET_RX; its handler (0.5-0.55)
// raises HI and BLOCK, and a hardirq nested at 0.52 ms (interrupts are on
// in handlers) raises NET_TX without serving it at its own exit. The same
// loop's second round serves HI, NET_TX, BLOCK at 0.55 ms, in that order,
// never nested: the softirq field of preempt_count is one SOFTIRQ_OFFSET.
TEST(Softirq, RaisedWhileServingIsPickedUpBySameLoopWithoutNesting) {
    sim m;
    std::vector<std::pair<unsigned, run_record>> runs;
    int depth = 0, max_depth = 0;
    auto handler = [&](unsigned nr, nsec_t work, std::vector<unsigned> raises) {
        open_softirq(m.kern(), nr, [&, nr, work, raises] {
            max_depth = std::max(max_depth, ++depth);
            EXPECT_TRUE(in_serving_softirq());
            runs.push_back({nr, here(m)});
            for (unsigned r : raises) raise_softirq(r);
            burn(work);
            --depth;
        });
    };
    handler(NET_RX_SOFTIRQ, usecs(50), {HI_SOFTIRQ, BLOCK_SOFTIRQ});
    handler(HI_SOFTIRQ, 0, {});
    handler(NET_TX_SOFTIRQ, 0, {});
    handler(BLOCK_SOFTIRQ, 0, {});
    nsec_t nested_at = -1;
    std::uint32_t nested_count = 0;
    irq_raising(m, 1, NET_RX_SOFTIRQ);
    irq_raising(m, 2, NET_TX_SOFTIRQ, [&] {
        nested_at = m.now();
        nested_count = preempt_count();
    });
    m.raise_irq(usecs(500), 0, 1);
    m.raise_irq(usecs(520), 0, 2);
    task_struct& u = m.spawn({.name = "user"}, [] { burn(msecs(2)); });
    m.run(secs(1));
    EXPECT_EQ(nested_at, usecs(520));
    EXPECT_EQ(nested_count, HARDIRQ_OFFSET + SOFTIRQ_OFFSET);
    ASSERT_EQ(runs.size(), 4u);
    const unsigned order[] = {NET_RX_SOFTIRQ, HI_SOFTIRQ, NET_TX_SOFTIRQ, BLOCK_SOFTIRQ};
    const nsec_t at[] = {usecs(500), usecs(550), usecs(550), usecs(550)};
    for (std::size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(runs[i].first, order[i]) << i;
        EXPECT_EQ(runs[i].second.time, at[i]) << i;
        EXPECT_EQ(runs[i].second.pid, u.pid) << i;
        EXPECT_EQ(runs[i].second.count, SOFTIRQ_OFFSET) << i;
    }
    EXPECT_EQ(max_depth, 1);
    EXPECT_EQ(ksoftirqd(m).first_run, -1);
    EXPECT_EQ(u.exit_time, usecs(2050));
}

// The seed diagram's shape under FULL: TaskA in a syscall, an irq at 2.5 ms
// wakes TaskB (FIFO 50) and raises NET_RX (200 us). The softirq runs at
// that irq's exit, in TaskA's context on CPU 0's irq stack (the irq came
// from kernel mode), and only then does irqentry_exit preempt, back on
// TaskA's stack: TaskB first runs at 2.7 ms, not 2.5 ms.
TEST(Softirq, HardirqRaisedRunAtIrqExitOnTheIrqStackBeforePreemption) {
    sim m({.model = preempt_mode::full});
    switch_recorder rec;
    m.set_observer(&rec);
    task_struct& b = m.spawn({.name = "TaskB", .policy = sched_policy::fifo, .priority = 50, .start_stopped = true},
                             [] { burn(msecs(1)); });
    task_struct& a = m.spawn({.name = "TaskA"}, [] {
        syscall_section sys;
        burn(msecs(5));
    });
    run_record seen{};
    bool on_irq_stack = false;
    open_softirq(m.kern(), NET_RX_SOFTIRQ, [&] {
        seen = here(m);
        const char probe = 0;
        const task_stack& irq_stack = *m.kern().cpu(0).hardirq_stack;
        const auto* lo = static_cast<const char*>(irq_stack.bottom());
        on_irq_stack = &probe >= lo && &probe < lo + irq_stack.size();
        burn(usecs(200));
    });
    irq_raising(m, 1, NET_RX_SOFTIRQ, [&b] { wake_up_process(b); });
    m.raise_irq(usecs(2500), 0, 1);
    m.run(secs(1));
    EXPECT_EQ(seen.time, usecs(2500));
    EXPECT_EQ(seen.pid, a.pid);
    EXPECT_EQ(seen.count, SOFTIRQ_OFFSET);
    EXPECT_TRUE(on_irq_stack);
    EXPECT_EQ(b.first_run, usecs(2700));
    const switch_record* to_b = rec.first_switch_to(b.pid);
    ASSERT_NE(to_b, nullptr);
    EXPECT_EQ(to_b->point, preempt_point::irq_exit);
    EXPECT_EQ(sirq(m).resched_ended, 0u);  // nothing was left pending
}

// raise_softirq() from task context with bh enabled: nothing would serve it
// on the way out, so ksoftirqd/0 is woken (at 0.5 ms) and serves it when the
// task blocks at 0.6 ms. (Raised at a tick's instant, that tick's irq exit
// would serve it on the task first, as in Linux.)
TEST(Softirq, RaiseFromTaskContextWakesKsoftirqd) {
    sim m;
    switch_recorder rec;
    m.set_observer(&rec);
    run_record seen{};
    bool serving = false;
    open_softirq(m.kern(), BLOCK_SOFTIRQ, [&] {
        seen = here(m);
        serving = in_serving_softirq();
    });
    task_struct& t = m.spawn({.name = "raiser", .kthread = true}, [] {
        burn(usecs(500));
        raise_softirq(BLOCK_SOFTIRQ);
        burn(usecs(100));
        msleep(2);
    });
    m.run(secs(1));
    const int k = ksoftirqd(m).pid;
    int wakeups_of_k = 0;
    for (const auto& w : rec.wakeups)
        if (w.pid == k) {
            ++wakeups_of_k;
            EXPECT_EQ(w.time, usecs(500));
        }
    EXPECT_EQ(wakeups_of_k, 1);
    EXPECT_EQ(seen.time, usecs(600));
    EXPECT_EQ(seen.pid, k);
    EXPECT_TRUE(serving);
    EXPECT_EQ(ksoftirqd(m).first_run, usecs(600));
    EXPECT_NE(t.exit_time, -1);
}

// The irq at 0.5 ms wakes an RT task and raises a self-re-raising NET_RX
// (10 us, 15 runs): need_resched() ends the loop after one round, ksoftirqd
// is woken and TaskB runs at 0.51 ms. The tick at 1 ms interrupts TaskB;
// its irq exit finds NET_RX still pending and serves 10 rounds on TaskB's
// stack (Linux 6.12 does not defer to a runnable ksoftirqd), so TaskB's
// 1 ms ends at 1.61 ms.
TEST(Softirq, NeedReschedEndsTheLoopEarly) {
    sim m({.model = preempt_mode::full});
    task_struct& b = m.spawn({.name = "TaskB", .policy = sched_policy::fifo, .priority = 50, .start_stopped = true},
                             [] { burn(msecs(1)); });
    task_struct& a = m.spawn({.name = "TaskA"}, [] { burn(msecs(3)); });
    std::vector<run_record> runs;
    open_softirq(m.kern(), NET_RX_SOFTIRQ, [&] {
        runs.push_back(here(m));
        burn(usecs(10));
        if (runs.size() < 15) raise_softirq(NET_RX_SOFTIRQ);
    });
    irq_raising(m, 1, NET_RX_SOFTIRQ, [&b] { wake_up_process(b); });
    m.raise_irq(usecs(500), 0, 1);
    m.run(secs(1));
    ASSERT_EQ(runs.size(), 15u);
    EXPECT_EQ(runs[0].time, usecs(500));
    EXPECT_EQ(runs[0].pid, a.pid);
    for (std::size_t i = 1; i <= 10; ++i) {
        EXPECT_EQ(runs[i].time, msecs(1) + static_cast<nsec_t>(i - 1) * usecs(10)) << i;
        EXPECT_EQ(runs[i].pid, b.pid) << i;
    }
    EXPECT_EQ(b.first_run, usecs(510));
    EXPECT_EQ(b.exit_time, usecs(1610));
    EXPECT_EQ(sirq(m).resched_ended, 1u);
    EXPECT_EQ(sirq(m).restarts_exhausted, 1u);
    EXPECT_EQ(sirq(m).count[NET_RX_SOFTIRQ], 15u);
}

// in_softirq() is true with bh merely disabled, in_serving_softirq() only
// while serving; in_interrupt() is true in both; in_task() stays true with
// bh disabled (only serving makes it false).
TEST(Softirq, ContextPredicates) {
    sim m;
    struct ctx {
        bool softirq, serving, interrupt, task, hardirq;
        std::uint32_t count;
    };
    auto snap = [] {
        return ctx{in_softirq(), in_serving_softirq(), in_interrupt(), in_task(), in_hardirq(), preempt_count()};
    };
    ctx plain{}, bh_off{}, serving{}, hard_in_soft{};
    open_softirq(m.kern(), TASKLET_SOFTIRQ, [&] { serving = snap(); });
    irq_raising(m, 1, HRTIMER_SOFTIRQ, [&] { hard_in_soft = snap(); });
    open_softirq(m.kern(), HRTIMER_SOFTIRQ, [] {});
    open_softirq(m.kern(), SCHED_SOFTIRQ, [&] { burn(usecs(100)); });  // an irq arrives meanwhile
    m.raise_irq(usecs(50), 0, 1);
    m.spawn({.name = "k", .kthread = true}, [&] {
        plain = snap();
        local_bh_disable();
        bh_off = snap();
        raise_softirq(TASKLET_SOFTIRQ);
        raise_softirq(SCHED_SOFTIRQ);
        local_bh_enable();
    });
    m.run(secs(1));
    EXPECT_FALSE(plain.softirq || plain.serving || plain.interrupt || plain.hardirq);
    EXPECT_TRUE(plain.task);
    EXPECT_TRUE(bh_off.softirq && bh_off.interrupt && bh_off.task);
    EXPECT_FALSE(bh_off.serving);
    EXPECT_EQ(bh_off.count, SOFTIRQ_DISABLE_OFFSET);
    EXPECT_TRUE(serving.softirq && serving.serving && serving.interrupt);
    EXPECT_FALSE(serving.task || serving.hardirq);
    EXPECT_EQ(serving.count, SOFTIRQ_OFFSET + PREEMPT_OFFSET);
    EXPECT_TRUE(hard_in_soft.hardirq && hard_in_soft.serving && hard_in_soft.interrupt);
    EXPECT_FALSE(hard_in_soft.task);
    EXPECT_EQ(hard_in_soft.count, HARDIRQ_OFFSET + SOFTIRQ_OFFSET + PREEMPT_OFFSET);
    EXPECT_EQ(sirq(m).count[HRTIMER_SOFTIRQ], 1u);  // served in the same loop, after SCHED
}

// 0-0.2 user | 0.2-0.3 hardirq | 0.3-0.4 NET_RX | 0.4-0.45 nested hardirq
// | 0.45-0.65 NET_RX | 0.65-3.45 user. Softirq time is its own bucket, the
// nested hardirq is not in it, the buckets sum to elapsed time, and the
// task's runtime (rq clock_task) is charged neither.
TEST(Softirq, SoftirqTimeInCpuAccounting) {
    sim m;
    open_softirq(m.kern(), NET_RX_SOFTIRQ, [] { burn(usecs(300)); });
    m.request_irq(1, "nic", [] {
        burn(usecs(100));
        raise_softirq_irqoff(NET_RX_SOFTIRQ);
    });
    m.request_irq(2, "disk", [] { burn(usecs(50)); });
    m.raise_irq(usecs(200), 0, 1);
    m.raise_irq(usecs(400), 0, 2);
    task_struct& t = m.spawn({.name = "user"}, [] { burn(msecs(3)); });
    m.run(secs(1));
    EXPECT_EQ(t.exit_time, usecs(3450));
    EXPECT_EQ(bucket(m, cpu_bucket::user), msecs(3));
    EXPECT_EQ(bucket(m, cpu_bucket::irq), usecs(150));
    EXPECT_EQ(bucket(m, cpu_bucket::softirq), usecs(300));
    EXPECT_EQ(bucket(m, cpu_bucket::system), 0);
    EXPECT_EQ(bucket_sum(m), m.now());
    EXPECT_EQ(sirq(m).time[NET_RX_SOFTIRQ], usecs(300));
    EXPECT_EQ(t.utime, msecs(3));
    EXPECT_EQ(t.se.sum_exec_runtime, msecs(3));
}

// /proc/softirqs: per CPU and per vector. The tick raises TIMER only when a
// jiffies timer is due, and the timer's callback runs in that softirq at
// the tick's instant (msleep(2) at 0 -> the 3 ms tick).
TEST(Softirq, PerVectorCountsPerCpuAndTimerSoftirq) {
    sim m({.nr_cpus = 2});
    for (unsigned nr : {NET_RX_SOFTIRQ, BLOCK_SOFTIRQ}) open_softirq(m.kern(), nr, [] {});
    irq_raising(m, 1, NET_RX_SOFTIRQ);
    irq_raising(m, 2, BLOCK_SOFTIRQ);
    for (nsec_t at : {usecs(100), usecs(200), usecs(300)}) m.raise_irq(at, 0, 1);
    m.raise_irq(usecs(150), 1, 1);
    m.raise_irq(usecs(150), 1, 2);
    bool timer_in_softirq = false;
    nsec_t woke = -1;
    task_struct& s = m.spawn({.name = "sleeper", .cpus = {0}, .kthread = true}, [&] {
        timer_list timer;
        timer.expires = get_jiffies() + 2;
        timer.function = [&](timer_list&) { timer_in_softirq = in_serving_softirq(); };
        add_timer(timer);
        msleep(2);
        woke = this_kernel().arch().now();
        del_timer_sync(timer);
    });
    m.run(secs(1));
    EXPECT_TRUE(timer_in_softirq);
    EXPECT_EQ(woke, msecs(3));
    EXPECT_EQ(s.exit_time, msecs(3));
    const std::uint64_t cpu0[NR_SOFTIRQS] = {0, 1, 0, 3, 0, 0, 0, 0, 0, 0};
    const std::uint64_t cpu1[NR_SOFTIRQS] = {0, 0, 0, 1, 1, 0, 0, 0, 0, 0};
    for (unsigned nr = 0; nr < NR_SOFTIRQS; ++nr) {
        EXPECT_EQ(sirq(m, 0).count[nr], cpu0[nr]) << softirq_to_name[nr];
        EXPECT_EQ(sirq(m, 1).count[nr], cpu1[nr]) << softirq_to_name[nr];
    }
}

}  // namespace
}  // namespace kp
