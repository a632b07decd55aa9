// Workqueues: the per-CPU kworkers, where and when work runs (process
// context, competing as SCHED_NORMAL), PENDING, requeueing from inside,
// non-reentrancy, delayed work on the jiffies timers, cancel and flush.
//
// One CPU unless said, HZ 1000 (a tick every 1 ms, jiffies + 1 at each),
// zero costs, so every instant below is exact.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernel/workqueue/workqueue.h"
#include "kpreempt/kpreempt.h"

namespace kp {
namespace {

// One run of a work function: when, where, in which task and context.
struct run_record {
    nsec_t time;
    int cpu;
    int pid;
    std::string comm;
    std::uint32_t count;
    bool worker;
};

run_record here(sim& m) {
    return {m.now(), smp_processor_id(), current().pid, current().comm, preempt_count(), current_is_workqueue_worker()};
}

worker_pool& pool(sim& m, int cpu = 0) { return m.kern().cpu(cpu).cpu_worker_pool; }

void on_irq(sim& m, int irq, std::function<void()> fn) {
    m.request_irq(irq, "dev" + std::to_string(irq), std::move(fn));
}

// Keeps the machine running (a live task) while the CPU is otherwise idle.
void spawn_sleeper(sim& m, unsigned ms, int cpu = 0) {
    m.spawn({.name = "sleeper", .cpus = {cpu}, .kthread = true, .cpu = cpu}, [ms] { msleep(ms); });
}

TEST(Workqueue, OneKworkerPerCpuMadeRightAfterKsoftirqd) {
    sim m({.nr_cpus = 2});
    for (int c = 0; c < 2; ++c) {
        ASSERT_NE(pool(m, c).worker, nullptr);
        task_struct& k = *pool(m, c).worker;
        EXPECT_EQ(k.comm, "kworker/" + std::to_string(c) + ":0");
        EXPECT_EQ(k.pid, 2 + c + 1);  // after ksoftirqd/0 and /1
        EXPECT_EQ(k.policy, sched_policy::normal);
        EXPECT_EQ(k.static_prio, nice_to_prio(0));
        EXPECT_TRUE(k.is_kthread());
        EXPECT_TRUE(k.flags & PF_NO_SETAFFINITY);
        EXPECT_EQ(k.nr_cpus_allowed, 1);
        EXPECT_TRUE(k.cpus_mask.test(static_cast<std::size_t>(c)));
        EXPECT_EQ(pool(m, c).cpu, c);
    }
    EXPECT_EQ(m.kern().nr_live_tasks(), 0u);  // the machine does not wait for them
    EXPECT_EQ(m.spawn({.name = "first"}, [] {}).pid, 5);
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(pool(m, 0).worker->first_run, -1);  // created blocked; nothing woke it
}

// The irq at 0.5 ms (a 50 us handler) queues the work on the idle CPU; the
// kworker runs it at 0.55 ms, once the irq is over, in process context.
TEST(Workqueue, WorkQueuedFromHardirqRunsInKworkerAfterTheIrq) {
    sim m;
    spawn_sleeper(m, 5);
    work_struct w;
    std::vector<run_record> runs;
    INIT_WORK(w, [&](work_struct& self) {
        runs.push_back(here(m));
        EXPECT_FALSE(work_pending(self));  // cleared before the call
        burn(usecs(100));
    });
    bool queued = false, pending_in_irq = false;
    on_irq(m, 1, [&] {
        queued = schedule_work(w);
        pending_in_irq = work_pending(w);
        burn(usecs(50));
    });
    m.raise_irq(usecs(500), 0, 1);
    m.run(secs(1));
    EXPECT_TRUE(queued);
    EXPECT_TRUE(pending_in_irq);
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].time, usecs(550));
    EXPECT_EQ(runs[0].comm, "kworker/0:0");
    EXPECT_EQ(runs[0].pid, pool(m).worker->pid);
    EXPECT_EQ(runs[0].count, 0u);  // process context: preemptible
    EXPECT_TRUE(runs[0].worker);
    EXPECT_FALSE(work_pending(w));
    EXPECT_EQ(pool(m).nr_executed, 1u);
    EXPECT_EQ(pool(m).worker->stime, usecs(100));
    EXPECT_TRUE(pool(m).worker_idle);
}

// Queueing a pending item does nothing and returns false, whichever CPU or
// call; once it has run it can be queued again (the irq at 0.8 ms).
TEST(Workqueue, QueueingAPendingItemReturnsFalse) {
    sim m;
    spawn_sleeper(m, 2);
    work_struct w;
    std::vector<nsec_t> runs;
    INIT_WORK(w, [&](work_struct&) { runs.push_back(m.now()); });
    std::vector<bool> results;
    on_irq(m, 1, [&] {
        results.push_back(schedule_work(w));
        results.push_back(schedule_work(w));
        results.push_back(queue_work_on(0, system_wq, w));
        results.push_back(queue_work(system_wq, w));
    });
    m.raise_irq(usecs(500), 0, 1);
    m.raise_irq(usecs(800), 0, 1);
    m.run(secs(1));
    EXPECT_EQ(results, (std::vector<bool>{true, false, false, false, true, false, false, false}));
    EXPECT_EQ(runs, (std::vector<nsec_t>{usecs(500), usecs(800)}));
    EXPECT_EQ(pool(m).nr_executed, 2u);
}

// PENDING is cleared before the function runs, so it can queue its own
// item: three runs back to back, 0.5, 0.6 and 0.7 ms.
TEST(Workqueue, WorkCanRequeueItselfFromItsFunction) {
    sim m;
    spawn_sleeper(m, 2);
    work_struct w;
    std::vector<nsec_t> runs;
    std::vector<bool> requeued;
    INIT_WORK(w, [&](work_struct& self) {
        runs.push_back(m.now());
        burn(usecs(100));
        if (runs.size() < 3) requeued.push_back(schedule_work(self));
    });
    on_irq(m, 1, [&] { schedule_work(w); });
    m.raise_irq(usecs(500), 0, 1);
    m.run(secs(1));
    EXPECT_EQ(runs, (std::vector<nsec_t>{usecs(500), usecs(600), usecs(700)}));
    EXPECT_EQ(requeued, (std::vector<bool>{true, true}));
    EXPECT_EQ(pool(m).nr_executed, 3u);
}

// The kworker is an ordinary SCHED_NORMAL task: work queued at 0.5 ms waits
// for the FIFO task that holds the CPU until 2 ms.
TEST(Workqueue, WorkCompetesAsSchedNormalSoAnRtTaskDelaysIt) {
    sim m;
    work_struct w;
    std::vector<run_record> runs;
    INIT_WORK(w, [&](work_struct&) { runs.push_back(here(m)); });
    on_irq(m, 1, [&] { schedule_work(w); });
    m.raise_irq(usecs(500), 0, 1);
    task_struct& rt = m.spawn({.name = "rt", .policy = sched_policy::fifo, .priority = 50}, [] { burn(msecs(2)); });
    spawn_sleeper(m, 5);
    m.run(secs(1));
    EXPECT_EQ(rt.exit_time, msecs(2));
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].time, msecs(2));
    EXPECT_EQ(runs[0].comm, "kworker/0:0");
    EXPECT_EQ(pool(m).worker->first_run, msecs(2));
}

// Work functions run in process context and may sleep. With one worker per
// pool, a sleeping function holds up its CPU's worklist: A (0.5 ms) sleeps
// 2 jiffies, until the 3 ms tick; B, queued at 1.2 ms, runs when A returns.
// (Linux would wake a second worker and run B at 1.2 ms.)
TEST(Workqueue, OneWorkerPerPoolSoASleepingWorkHoldsUpTheNext) {
    sim m;
    spawn_sleeper(m, 10);
    work_struct a, b;
    std::vector<std::pair<std::string, nsec_t>> log;
    INIT_WORK(a, [&](work_struct&) {
        log.push_back({"a", m.now()});
        msleep(2);
        log.push_back({"a done", m.now()});
    });
    INIT_WORK(b, [&](work_struct&) { log.push_back({"b", m.now()}); });
    on_irq(m, 1, [&] { schedule_work(a); });
    on_irq(m, 2, [&] { schedule_work(b); });
    m.raise_irq(usecs(500), 0, 1);
    m.raise_irq(usecs(1200), 0, 2);
    m.run(secs(1));
    const std::vector<std::pair<std::string, nsec_t>> want = {
        {"a", usecs(500)}, {"a done", msecs(3)}, {"b", msecs(3)}};
    EXPECT_EQ(log, want);
    EXPECT_EQ(pool(m).nr_executed, 2u);
}

// Delayed work is a jiffies timer that queues the item on the CPU it fires
// on. Armed at 0.3 ms (jiffies J): 5 jiffies land in the wheel's level 0
// and fire one jiffy late, at J + 6 (6 ms); 100 jiffies land in level 1
// (8-jiffy buckets) and fire at the next bucket boundary, J + 104 (J is a
// multiple of 8 at HZ 1000).
TEST(Workqueue, DelayedWorkRunsAfterItsDelayRoundedByTheTimerWheel) {
    sim m;
    spawn_sleeper(m, 200);
    delayed_work soon, later;
    std::vector<std::pair<std::string, run_record>> runs;
    INIT_DELAYED_WORK(soon, [&](work_struct&) { runs.push_back({"soon", here(m)}); });
    INIT_DELAYED_WORK(later, [&](work_struct&) { runs.push_back({"later", here(m)}); });
    std::vector<bool> results;
    bool pending_after = false;
    m.spawn({.name = "arm", .kthread = true}, [&] {
        burn(usecs(300));
        results.push_back(schedule_delayed_work(soon, 5));
        results.push_back(schedule_delayed_work(soon, 1));  // pending: ignored, the delay unchanged
        results.push_back(schedule_delayed_work(later, 100));
        pending_after = delayed_work_pending(soon) && delayed_work_pending(later);
    });
    m.run(secs(1));
    EXPECT_EQ(results, (std::vector<bool>{true, false, true}));
    EXPECT_TRUE(pending_after);
    ASSERT_EQ(runs.size(), 2u);
    EXPECT_EQ(runs[0].first, "soon");
    EXPECT_EQ(runs[0].second.time, msecs(6));
    EXPECT_EQ(runs[0].second.comm, "kworker/0:0");
    EXPECT_EQ(runs[1].first, "later");
    EXPECT_EQ(runs[1].second.time, msecs(104));
    EXPECT_FALSE(delayed_work_pending(soon) || delayed_work_pending(later));
}

// Two CPUs: a delayed item armed on CPU 1 with WORK_CPU_UNBOUND runs on
// CPU 1's kworker; schedule_delayed_work_on(0) from CPU 1 on CPU 0's.
TEST(Workqueue, DelayedWorkGoesToTheTimersCpuOrTheGivenOne) {
    sim m({.nr_cpus = 2});
    spawn_sleeper(m, 10, 0);
    delayed_work local, remote;
    std::vector<run_record> local_runs, remote_runs;
    INIT_DELAYED_WORK(local, [&](work_struct&) { local_runs.push_back(here(m)); });
    INIT_DELAYED_WORK(remote, [&](work_struct&) { remote_runs.push_back(here(m)); });
    m.spawn({.name = "arm", .cpus = {1}, .kthread = true, .cpu = 1}, [&] {
        schedule_delayed_work(local, 2);
        schedule_delayed_work_on(0, remote, 2);
    });
    m.run(secs(1));
    ASSERT_EQ(local_runs.size(), 1u);
    ASSERT_EQ(remote_runs.size(), 1u);
    EXPECT_EQ(local_runs[0].time, msecs(3));
    EXPECT_EQ(local_runs[0].comm, "kworker/1:0");
    EXPECT_EQ(remote_runs[0].time, msecs(3));
    EXPECT_EQ(remote_runs[0].comm, "kworker/0:0");
}

// Cancelling a delayed item whose timer is pending: true, the timer is off
// and the function never runs; cancelling again: false.
TEST(Workqueue, CancelDelayedWorkStopsItsTimer) {
    sim m;
    spawn_sleeper(m, 20);
    delayed_work dw;
    int runs = 0;
    INIT_DELAYED_WORK(dw, [&](work_struct&) { ++runs; });
    std::vector<bool> cancelled;
    m.spawn({.name = "k", .kthread = true}, [&] {
        schedule_delayed_work(dw, 10);
        burn(msecs(3));
        cancelled.push_back(cancel_delayed_work(dw));
        cancelled.push_back(cancel_delayed_work(dw));
    });
    m.run(secs(1));
    EXPECT_EQ(cancelled, (std::vector<bool>{true, false}));
    EXPECT_EQ(runs, 0);
    EXPECT_EQ(dw.timer.cpu, -1);
    EXPECT_FALSE(delayed_work_pending(dw));
    EXPECT_EQ(pool(m).worker->first_run, -1);
}

// The timer fired (3 ms tick) and queued the item, but the FIFO task keeps
// the kworker off the CPU; cancelling at 5 ms takes it off the worklist.
TEST(Workqueue, CancelDelayedWorkTakesAQueuedItemOffTheWorklist) {
    sim m;
    delayed_work dw;
    int runs = 0;
    INIT_DELAYED_WORK(dw, [&](work_struct&) { ++runs; });
    bool queued_at_4ms = false, cancelled = false;
    m.spawn({.name = "rt", .policy = sched_policy::fifo, .priority = 50, .kthread = true}, [&] {
        schedule_delayed_work(dw, 2);
        burn(msecs(4));
        queued_at_4ms = dw.work.queued && dw.timer.cpu < 0;
        burn(msecs(1));
        cancelled = cancel_delayed_work(dw);
        burn(msecs(1));
    });
    spawn_sleeper(m, 10);
    m.run(secs(1));
    EXPECT_TRUE(queued_at_4ms);
    EXPECT_TRUE(cancelled);
    EXPECT_EQ(runs, 0);
    EXPECT_TRUE(pool(m).worklist.empty());
    EXPECT_FALSE(delayed_work_pending(dw));
    EXPECT_EQ(pool(m).nr_executed, 0u);
}

// Two CPUs: a task on CPU 0 queues a 1 ms item on CPU 1 at 0.2 ms and
// flushes it: it sleeps until the item is done, 1.2 ms. A second flush
// returns false at once, as does flushing an item never queued.
TEST(Workqueue, FlushWorkSleepsUntilTheItemHasRun) {
    sim m({.nr_cpus = 2});
    work_struct w, never;
    INIT_WORK(never, [](work_struct&) {});
    std::vector<run_record> runs;
    INIT_WORK(w, [&](work_struct&) {
        runs.push_back(here(m));
        burn(msecs(1));
    });
    std::vector<std::pair<bool, nsec_t>> flushes;
    task_struct& t = m.spawn({.name = "flusher", .cpus = {0}, .kthread = true}, [&] {
        burn(usecs(200));
        queue_work_on(1, system_wq, w);
        flushes.push_back({flush_work(w), m.now()});
        flushes.push_back({flush_work(w), m.now()});
        flushes.push_back({flush_work(never), m.now()});
    });
    m.run(secs(1));
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].time, usecs(200));
    EXPECT_EQ(runs[0].comm, "kworker/1:0");
    const std::vector<std::pair<bool, nsec_t>> want = {{true, usecs(1200)}, {false, usecs(1200)}, {false, usecs(1200)}};
    EXPECT_EQ(flushes, want);
    EXPECT_EQ(t.nvcsw, 2u);  // slept in the first flush only, and at its exit
    EXPECT_EQ(pool(m, 1).nr_executed, 1u);  // the flush's barrier is not counted
}

// Flushing an item still queued behind others waits for it alone, not the
// items after it: A (1 ms) and B (1 ms) are queued at 0.2 ms by a FIFO task
// that then flushes A and returns at 1.2 ms, while B runs on.
TEST(Workqueue, FlushWorkOfAQueuedItemWaitsForThatItem) {
    sim m;
    work_struct a, b;
    INIT_WORK(a, [](work_struct&) { burn(msecs(1)); });
    INIT_WORK(b, [](work_struct&) { burn(msecs(1)); });
    nsec_t flushed_at = -1;
    m.spawn({.name = "rt", .policy = sched_policy::fifo, .priority = 50, .kthread = true}, [&] {
        burn(usecs(200));
        schedule_work(a);
        schedule_work(b);
        flush_work(a);
        flushed_at = m.now();
    });
    spawn_sleeper(m, 5);
    m.run(secs(1));
    EXPECT_EQ(flushed_at, usecs(1200));
    EXPECT_EQ(pool(m).nr_executed, 2u);
}

// Two CPUs: an item runs on CPU 1 from 0.2 to 1.2 ms; queued again at
// 0.5 ms from CPU 0 with queue_work (this CPU), it goes to CPU 1's pool,
// where it still runs, and runs there next, never beside itself.
TEST(Workqueue, NeverRunsConcurrentlyWithItself) {
    sim m({.nr_cpus = 2});
    work_struct w;
    std::vector<run_record> runs;
    int running = 0, max_running = 0;
    INIT_WORK(w, [&](work_struct&) {
        max_running = std::max(max_running, ++running);
        runs.push_back(here(m));
        burn(msecs(1));
        --running;
    });
    m.spawn({.name = "k", .cpus = {0}, .kthread = true}, [&] {
        burn(usecs(200));
        queue_work_on(1, system_wq, w);
        burn(usecs(300));
        queue_work(system_wq, w);
        msleep(3);
    });
    m.run(secs(1));
    ASSERT_EQ(runs.size(), 2u);
    EXPECT_EQ(runs[0].time, usecs(200));
    EXPECT_EQ(runs[1].time, usecs(1200));
    EXPECT_EQ(runs[0].cpu, 1);
    EXPECT_EQ(runs[1].cpu, 1);
    EXPECT_EQ(max_running, 1);
    EXPECT_EQ(pool(m, 0).nr_executed, 0u);
    EXPECT_EQ(pool(m, 1).nr_executed, 2u);
}

// A function that returns with preemption disabled is reported.
TEST(Workqueue, LeakedPreemptCountIsReported) {
    sim m;
    spawn_sleeper(m, 2);
    work_struct w;
    INIT_WORK(w, [](work_struct&) { preempt_disable(); });
    on_irq(m, 1, [&] { schedule_work(w); });
    m.raise_irq(usecs(500), 0, 1);
    m.run(secs(1));
    const std::string comm = pool(m).worker->comm + "[" + std::to_string(pool(m).worker->pid) + "]";
    EXPECT_EQ(m.log().count("BUG: workqueue leaked atomic, lock or RCU: " + comm), 1u);
    EXPECT_EQ(m.log().count("     preempt=0x00000001 lock=0->0 RCU=0->0"), 1u);
}

}  // namespace
}  // namespace kp
