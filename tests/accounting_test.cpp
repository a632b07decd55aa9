// CPU time accounting (spec 13) and the cost model. The core accounts at
// every context transition, so each CPU's buckets (user, system, irq,
// softirq, idle) sum exactly to elapsed virtual time; a task's utime/stime
// are its share of the user/system buckets; hardirq time (including the
// configured irq entry/exit and tick costs) goes to the irq bucket, not to
// the interrupted task. nvcsw counts blocking switches (and the final one at
// exit, as Linux does), nivcsw preemptions.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kpreempt/kpreempt.h"
#include "test_util.h"

namespace kp {
namespace {

nsec_t bucket(sim& m, int cpu, cpu_bucket b) { return m.kern().cpu(cpu).acct.bucket[static_cast<int>(b)]; }

nsec_t bucket_sum(sim& m, int cpu) {
    nsec_t sum = 0;
    for (int b = 0; b < static_cast<int>(cpu_bucket::count); ++b) sum += m.kern().cpu(cpu).acct.bucket[b];
    return sum;
}

// Every CPU's buckets sum to now; the CPUs' user and system time is exactly
// the tasks' utime and stime.
void expect_books_balance(sim& m) {
    nsec_t user = 0, system = 0;
    for (int c = 0; c < m.kern().nr_cpus(); ++c) {
        EXPECT_EQ(bucket_sum(m, c), m.now()) << "cpu " << c;
        user += bucket(m, c, cpu_bucket::user);
        system += bucket(m, c, cpu_bucket::system);
    }
    nsec_t utime = 0, stime = 0;
    for (const auto& t : m.kern().tasks()) {
        utime += t->utime;
        stime += t->stime;
    }
    EXPECT_EQ(utime, user);
    EXPECT_EQ(stime, system);
}

TEST(CpuAccounting, ExactBucketsForASmallScenario) {
    // 0-0.5 user | 0.5-0.6 irq handler | 0.6-1.1 user | 1.1-3.1 system |
    // 3.1-6.0 idle | 6.0-6.5 user | exit. msleep(2) at 3.1 ms (jiffies
    // j0 + 3): expires = j0 + 5, wheel level 0, so its bucket is j0 + 6,
    // the tick at 6 ms.
    sim m({.nr_cpus = 1, .hz = 1000, .model = preempt_mode::full});
    task_struct& t = m.spawn({.name = "worker"}, [] {
        burn(msecs(1));
        {
            syscall_section sys;
            burn(msecs(2));
            msleep(2);
        }
        burn(usecs(500));
    });
    m.request_irq(1, "dev", [] { burn(usecs(100)); });
    m.raise_irq(usecs(500), 0, 1);
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(m.now(), usecs(6500));
    EXPECT_EQ(bucket(m, 0, cpu_bucket::user), usecs(1500));
    EXPECT_EQ(bucket(m, 0, cpu_bucket::system), msecs(2));
    EXPECT_EQ(bucket(m, 0, cpu_bucket::irq), usecs(100));
    EXPECT_EQ(bucket(m, 0, cpu_bucket::softirq), 0);
    EXPECT_EQ(bucket(m, 0, cpu_bucket::idle), usecs(2900));
    EXPECT_EQ(t.utime, usecs(1500));  // the irq handler's 0.1 ms is not the task's
    EXPECT_EQ(t.stime, msecs(2));
    EXPECT_EQ(t.nvcsw, 2u);  // the msleep, and the exit
    EXPECT_EQ(t.nivcsw, 0u);
    expect_books_balance(m);
}

TEST(CpuAccounting, IrqOnAnIdleCpuIsIrqTimeNotIdle) {
    sim m({.nr_cpus = 1, .hz = 1000, .model = preempt_mode::full});
    m.spawn({.name = "sleeper"}, [] {
        syscall_section sys;
        msleep(4);
    });
    m.request_irq(1, "dev", [] { burn(usecs(250)); });
    m.raise_irq(usecs(1500), 0, 1);
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    // msleep(4) at t = 0: expires = j0 + 4, bucket j0 + 5: the tick at 5 ms.
    EXPECT_EQ(m.now(), msecs(5));
    EXPECT_EQ(bucket(m, 0, cpu_bucket::irq), usecs(250));
    EXPECT_EQ(bucket(m, 0, cpu_bucket::idle), msecs(5) - usecs(250));
    EXPECT_EQ(bucket(m, 0, cpu_bucket::user) + bucket(m, 0, cpu_bucket::system), 0);
}

// A deterministic mixed workload: tasks with user work, syscall sections
// and sleeps, and device interrupts with burning handlers on every CPU.
// Returns each CPU's total handler work, recorded by the handlers.
std::vector<nsec_t> mixed_workload(sim& m, int nr_tasks) {
    const int nr_cpus = m.kern().nr_cpus();
    for (int i = 0; i < nr_tasks; ++i) {
        m.spawn({.name = "mix" + std::to_string(i), .cpu = i % nr_cpus}, [i] {
            for (int round = 0; round < 4; ++round) {
                burn(usecs(300 + 70 * ((i + round) % 5)));
                syscall_section sys;
                burn(usecs(200 + 110 * ((i * 3 + round) % 4)));
                if ((i + round) % 3 == 0) msleep(static_cast<unsigned>(1 + (i + round) % 2));
                else if ((i + round) % 3 == 1) usleep_range(350, 400);
                else might_sleep();
            }
        });
    }
    auto handler_work = std::make_shared<std::vector<nsec_t>>(static_cast<std::size_t>(nr_cpus), 0);
    for (int irq = 1; irq <= 2; ++irq) {
        const nsec_t work = usecs(40 * irq);
        m.request_irq(irq, "dev" + std::to_string(irq), [handler_work, work] {
            burn(work);
            (*handler_work)[static_cast<std::size_t>(smp_processor_id())] += work;
        });
    }
    for (int k = 0; k < 12; ++k)
        m.raise_irq(usecs(130 + 610 * k), k % nr_cpus, 1 + k % 2);
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    return *handler_work;
}

TEST(CpuAccounting, BucketsSumToElapsedTimeOnOneCpu) {
    sim m({.nr_cpus = 1, .hz = 1000, .model = preempt_mode::full});
    const auto handler_work = mixed_workload(m, 4);
    expect_books_balance(m);
    EXPECT_EQ(bucket(m, 0, cpu_bucket::irq), handler_work[0]);  // ticks cost nothing here
    EXPECT_GT(bucket(m, 0, cpu_bucket::user), 0);
    EXPECT_GT(bucket(m, 0, cpu_bucket::system), 0);
}

TEST(CpuAccounting, BucketsSumToElapsedTimeOnFourCpus) {
    for (const preempt_mode model : {preempt_mode::none, preempt_mode::voluntary, preempt_mode::full}) {
        sim m({.nr_cpus = 4, .hz = 250, .model = model});
        const auto handler_work = mixed_workload(m, 10);
        expect_books_balance(m);
        for (int c = 0; c < 4; ++c) {
            EXPECT_EQ(bucket(m, c, cpu_bucket::irq), handler_work[static_cast<std::size_t>(c)]) << "cpu " << c;
            EXPECT_GT(handler_work[static_cast<std::size_t>(c)], 0) << "cpu " << c;
        }
    }
}

TEST(CpuAccounting, BucketsSumToElapsedTimeWithCosts) {
    sim m({.nr_cpus = 4,
           .hz = 1000,
           .model = preempt_mode::full,
           .costs = {.context_switch = usecs(3), .irq_entry = usecs(1), .irq_exit = usecs(2), .tick = usecs(5)}});
    mixed_workload(m, 10);
    expect_books_balance(m);
}

TEST(CpuAccounting, BooksBalanceWhenStoppedAtATimeLimit) {
    sim m({.nr_cpus = 2, .hz = 1000, .model = preempt_mode::full});
    for (int i = 0; i < 3; ++i) {
        m.spawn({.name = "long" + std::to_string(i)}, [] {
            for (int k = 0; k < 20; ++k) {
                burn(usecs(700));
                syscall_section sys;
                burn(usecs(300));
                msleep(1);
            }
        });
    }
    EXPECT_EQ(m.run(usecs(7250)), sim_machine::stop_reason::time_limit);
    EXPECT_EQ(m.now(), usecs(7250));
    expect_books_balance(m);
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);  // and it goes on
    expect_books_balance(m);
}

TEST(TaskAccounting, SwitchCountsAndTimesForAPreemptionScenario) {
    // One CPU, FULL. A (normal) burns 10 ms. An interrupt at 2.5 ms wakes B
    // (FIFO): B preempts A at the irq return, burns 0.7 ms, sleeps 1 jiffy
    // (msleep(1) at 3.2 ms, jiffies j0 + 3: expires j0 + 4, bucket j0 + 5,
    // so the 5 ms tick), preempts A again there, burns 0.3 ms, exits. A's
    // 10 ms of work ends at 11 ms either way (it loses 0.7 + 0.3 ms to B).
    sim m({.nr_cpus = 1, .hz = 1000, .model = preempt_mode::full});
    task_struct& b = m.spawn({.name = "B", .policy = sched_policy::fifo, .priority = 10, .start_stopped = true}, [] {
        burn(usecs(700));
        {
            syscall_section sys;
            msleep(1);
        }
        burn(usecs(300));
    });
    task_struct& a = m.spawn({.name = "A"}, [] { burn(msecs(10)); });
    m.request_irq(1, "dev", [&b] { wake_up_process(b); });
    m.raise_irq(usecs(2500), 0, 1);
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(b.first_run, usecs(2500));
    EXPECT_EQ(b.exit_time, usecs(5300));
    EXPECT_EQ(a.exit_time, msecs(11));
    EXPECT_EQ(a.nivcsw, 2u);  // preempted at 2.5 ms and at 5 ms
    EXPECT_EQ(a.nvcsw, 1u);   // its exit
    EXPECT_EQ(b.nvcsw, 2u);   // the msleep and its exit
    EXPECT_EQ(b.nivcsw, 0u);
    EXPECT_EQ(a.utime, msecs(10));
    EXPECT_EQ(a.stime, 0);
    EXPECT_EQ(b.utime, msecs(1));
    EXPECT_EQ(b.stime, 0);
    EXPECT_EQ(bucket(m, 0, cpu_bucket::idle), 0);
    expect_books_balance(m);
}

// A switch between two tasks that both stay in kernel mode changes no
// bucket, but the time so far is still the old task's: each kthread is
// charged exactly its own work.
TEST(TaskAccounting, KernelTimeBeforeASwitchIsTheOldTasks) {
    sim m({.nr_cpus = 1, .hz = 1000, .model = preempt_mode::full});
    task_struct& k1 = m.spawn({.name = "k1", .kthread = true}, [] {
        burn(usecs(300));
        msleep(1);
    });
    task_struct& k2 = m.spawn({.name = "k2", .kthread = true}, [] { burn(usecs(200)); });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(k1.stime, usecs(300));
    EXPECT_EQ(k2.stime, usecs(200));
    expect_books_balance(m);
}

// ---- the cost model ------------------------------------------------------

struct diagram_times {
    nsec_t taskb_first_run;
    nsec_t taskb_exit;
    nsec_t taska_exit;
    nsec_t irq_time;
};

// The seed diagram (tests/seed_diagram_test.cpp) under FULL, with costs.
diagram_times seed_diagram_with(const cost_model& costs) {
    sim m({.nr_cpus = 1, .hz = 1000, .model = preempt_mode::full, .costs = costs});
    auto [a, b] = spawn_seed_diagram(m);
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    expect_books_balance(m);
    return {b.first_run, b.exit_time, a.exit_time, bucket(m, 0, cpu_bucket::irq)};
}

TEST(CostModel, ZeroCostsGiveTheSeedDiagramTimes) {
    const diagram_times t = seed_diagram_with({});
    EXPECT_EQ(t.taskb_first_run, usecs(2600));
    EXPECT_EQ(t.taskb_exit, usecs(4600));
    EXPECT_EQ(t.taska_exit, usecs(13100));
    EXPECT_EQ(t.irq_time, usecs(100));
}

TEST(CostModel, IrqEntryAndExitShiftTaskBByExactlyTheirSum) {
    const diagram_times t = seed_diagram_with({.irq_entry = usecs(2), .irq_exit = usecs(3)});
    EXPECT_EQ(t.taskb_first_run, usecs(2605));
    // B's 2 ms run takes the ticks at 3 and 4 ms, 5 us each.
    EXPECT_EQ(t.taskb_exit, usecs(4615));
    // 14 interrupts of 5 us each: 13 ticks (1..13 ms) and the device; no
    // reschedule IPI at boot (see NoReschedIpiBeforeBoot). A has 2.49 ms of
    // work done at 2.5 ms (ticks at 1, 2 ms), resumes at 4.615 ms, and its
    // remaining 8.51 ms take the ticks at 5..13 ms: 13.125 + 0.045 ms.
    EXPECT_EQ(t.taska_exit, usecs(13100) + 14 * usecs(5));
    EXPECT_EQ(t.irq_time, usecs(100) + 14 * usecs(5));
}

TEST(CostModel, ContextSwitchCostIsChargedOncePerSwitch) {
    // Switches: idle->A at boot, A->B at 2.6 ms, B->A at B's exit, and A's
    // exit to idle (whose cost falls after the machine stops).
    const diagram_times t = seed_diagram_with({.context_switch = usecs(7)});
    EXPECT_EQ(t.taskb_first_run, usecs(2600));  // the switch starts at the irq return
    EXPECT_EQ(t.taskb_exit, usecs(4607));
    EXPECT_EQ(t.taska_exit, usecs(13100) + 3 * usecs(7));
    EXPECT_EQ(t.irq_time, usecs(100));
}

// A task spawned before the machine runs needs no reschedule IPI: no CPU
// runs yet, and each one looks for work when it starts. So no interrupt and
// no irq time at t = 0. A task spawned between two run() calls onto the
// idle CPU does get the IPI (resched_curr from outside the machine is
// remote); it arrives at once (ipi_latency 0), pays entry + exit, and the
// idle loop then switches to the task: first run at 500 + 1 + 2 us. Without
// the IPI nothing would wake the idle CPU before the tick at 1 ms.
TEST(CostModel, NoReschedIpiBeforeBoot) {
    sim m({.nr_cpus = 1, .hz = 1000, .model = preempt_mode::full,
           .costs = {.irq_entry = usecs(1), .irq_exit = usecs(2)}});
    task_struct& t = m.spawn({.name = "worker"}, [] { burn(usecs(500)); });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(t.first_run, 0);
    EXPECT_EQ(t.exit_time, usecs(500));
    EXPECT_EQ(m.now(), usecs(500));
    EXPECT_EQ(m.machine().interrupts_delivered().ipi, 0u);
    EXPECT_EQ(m.machine().interrupts_delivered().timer, 0u);  // the first tick is at 1 ms
    EXPECT_EQ(bucket(m, 0, cpu_bucket::irq), 0);
    EXPECT_EQ(bucket(m, 0, cpu_bucket::user), usecs(500));
    expect_books_balance(m);

    task_struct& late = m.spawn({.name = "late"}, [] { burn(usecs(200)); });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(m.machine().interrupts_delivered().ipi, 1u);
    EXPECT_EQ(m.machine().interrupts_delivered().timer, 0u);
    EXPECT_EQ(late.first_run, usecs(503));
    EXPECT_EQ(late.exit_time, usecs(703));
    EXPECT_EQ(bucket(m, 0, cpu_bucket::irq), usecs(3));
    EXPECT_EQ(bucket(m, 0, cpu_bucket::user), usecs(700));
    EXPECT_EQ(bucket(m, 0, cpu_bucket::idle), 0);
    expect_books_balance(m);
}

TEST(CostModel, TickCostIsIrqTimeThatStretchesTheWork) {
    sim m({.nr_cpus = 1, .hz = 1000, .model = preempt_mode::full,
           .costs = {.irq_entry = usecs(1), .irq_exit = usecs(2), .tick = usecs(10)}});
    task_struct& t = m.spawn({.name = "worker"}, [] { burn(msecs(5)); });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    // No interrupt at boot; the ticks at 1..5 ms take 13 us each. By 5 ms,
    // 4.948 ms of work is done; the fifth tick and the remaining 52 us end
    // it at 5.065 ms.
    EXPECT_EQ(t.exit_time, usecs(5065));
    EXPECT_EQ(bucket(m, 0, cpu_bucket::irq), 5 * usecs(13));
    EXPECT_EQ(bucket(m, 0, cpu_bucket::user), msecs(5));
    EXPECT_EQ(t.utime, msecs(5));
    expect_books_balance(m);
}

}  // namespace
}  // namespace kp
