// Wait queues, completions, sleeping mutexes and spinlocks (spec 5.4, 12;
// kernel/sched/wait.c, completion.c, kernel/locking/). Every scenario runs
// on the virtual clock with zero costs and asserts exact times: a task that
// blocks is woken at the waker's instant (IPIs have no latency here), a
// spinner gets the lock at the holder's release instant, and an interrupt
// masked by spin_lock_irq arrives at spin_unlock_irq.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kpreempt/kpreempt.h"

namespace kp {
namespace {

constexpr int kDevIrq = 1;
constexpr int kDevIrq2 = 2;

kernel_config cpus(int n) { return {.nr_cpus = n, .hz = 1000, .model = preempt_mode::full}; }

// ---- wait queues ---------------------------------------------------------

struct waiter_log {
    std::vector<nsec_t> woke_at;  // per waiter index
};

// Waiters i = 0..n-1, each pinned to CPU i + 1, queue in index order (each
// starts 10 us after the previous) with the given exclusivity, then wait
// for `go`. Device interrupts on CPU 0 at `wakes[k]` run `waker`.
template <class Waker>
waiter_log run_waiters(const std::vector<bool>& exclusive, const std::vector<nsec_t>& wakes, Waker waker,
                       std::vector<int>* woken_counts) {
    const int n = static_cast<int>(exclusive.size());
    sim m(cpus(n + 1));
    wait_queue_head wq;
    bool go = false;
    waiter_log out;
    out.woke_at.assign(static_cast<std::size_t>(n), -1);
    for (int i = 0; i < n; ++i) {
        m.spawn({.name = "waiter" + std::to_string(i), .cpus = {i + 1}, .cpu = i + 1}, [&, i] {
            burn(usecs(10) * (i + 1));
            syscall_section sys;
            wait_event(wq, [&] { return go; }, TASK_UNINTERRUPTIBLE, exclusive[static_cast<std::size_t>(i)]);
            out.woke_at[static_cast<std::size_t>(i)] = m.now();
        });
    }
    m.request_irq(kDevIrq, "dev", [&] {
        go = true;
        woken_counts->push_back(waker(wq));
    });
    for (nsec_t at : wakes) m.raise_irq(at, 0, kDevIrq);
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    return out;
}

TEST(WaitQueue, WakeUpWakesEveryWaiterNonExclusive) {
    std::vector<int> counts;
    const waiter_log w = run_waiters({false, false, false}, {msecs(2)}, [](wait_queue_head& wq) { return wake_up(wq); },
                                     &counts);
    EXPECT_EQ(counts, std::vector<int>{3});
    EXPECT_EQ(w.woke_at, (std::vector<nsec_t>{msecs(2), msecs(2), msecs(2)}));
}

TEST(WaitQueue, WakeUpWakesAllNonExclusiveAndOneExclusive) {
    std::vector<int> counts;
    // Queued in order: A (shared), X (exclusive), B (shared), Y (exclusive).
    const waiter_log w = run_waiters({false, true, false, true}, {msecs(2), msecs(5)},
                                     [](wait_queue_head& wq) { return wake_up(wq); }, &counts);
    EXPECT_EQ(counts, (std::vector<int>{3, 1}));
    EXPECT_EQ(w.woke_at, (std::vector<nsec_t>{msecs(2), msecs(2), msecs(2), msecs(5)}));
}

TEST(WaitQueue, WakeUpAllWakesEveryExclusiveWaiter) {
    std::vector<int> counts;
    const waiter_log w = run_waiters({true, true, true}, {msecs(2)},
                                     [](wait_queue_head& wq) { return wake_up_all(wq); }, &counts);
    EXPECT_EQ(counts, std::vector<int>{3});
    EXPECT_EQ(w.woke_at, (std::vector<nsec_t>{msecs(2), msecs(2), msecs(2)}));
}

TEST(WaitQueue, WaitEventRechecksTheConditionAfterAWakeup) {
    sim m(cpus(1));
    wait_queue_head wq;
    int level = 0;
    nsec_t done_at = -1;
    std::vector<int> woken;
    m.spawn({.name = "waiter"}, [&] {
        syscall_section sys;
        wait_event(wq, [&] { return level >= 2; });
        done_at = m.now();
    });
    m.request_irq(kDevIrq, "dev", [&] {
        ++level;
        woken.push_back(wake_up(wq));
    });
    m.raise_irq(msecs(1), 0, kDevIrq);  // level 1: wakes, condition false, sleeps again
    m.raise_irq(msecs(4), 0, kDevIrq);  // level 2: done
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(woken, (std::vector<int>{1, 1}));
    EXPECT_EQ(done_at, msecs(4));
    EXPECT_TRUE(wq.head.empty());
}

TEST(WaitQueue, WakeUpWithoutWaitersWakesNobody) {
    sim m(cpus(1));
    int woken = -1;
    m.spawn({.name = "waker"}, [&] {
        wait_queue_head wq;
        woken = wake_up_all(wq);
    });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(woken, 0);
}

// ---- completions ---------------------------------------------------------

// Two waiters on CPUs 1 and 2 (queued in that order) wait for `done`;
// device interrupts on CPU 0 at 2 ms and 5 ms run `signal`.
template <class Signal>
std::vector<nsec_t> run_completion_waiters(Signal signal) {
    sim m(cpus(3));
    completion done;
    init_completion(done);
    std::vector<nsec_t> woke(2, -1);
    for (int i = 0; i < 2; ++i) {
        m.spawn({.name = "waiter" + std::to_string(i), .cpus = {i + 1}, .cpu = i + 1}, [&, i] {
            burn(usecs(10) * (i + 1));
            syscall_section sys;
            wait_for_completion(done);
            woke[static_cast<std::size_t>(i)] = m.now();
        });
    }
    m.request_irq(kDevIrq, "dev", [&] { signal(done); });
    m.raise_irq(msecs(2), 0, kDevIrq);
    m.raise_irq(msecs(5), 0, kDevIrq);
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    return woke;
}

TEST(Completion, CompleteWakesOneWaiterInQueueOrder) {
    const auto woke = run_completion_waiters([](completion& c) { complete(c); });
    EXPECT_EQ(woke, (std::vector<nsec_t>{msecs(2), msecs(5)}));
}

TEST(Completion, CompleteAllWakesEveryWaiter) {
    const auto woke = run_completion_waiters([](completion& c) { complete_all(c); });
    EXPECT_EQ(woke, (std::vector<nsec_t>{msecs(2), msecs(2)}));
}

TEST(Completion, TimeoutReturnsZeroWhenNotCompleted) {
    sim m(cpus(1));
    completion c;
    unsigned long ret = 99;
    nsec_t at = -1;
    m.spawn({.name = "waiter"}, [&] {
        burn(usecs(500));
        syscall_section sys;
        ret = wait_for_completion_timeout(c, 3);
        at = m.now();
    });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(ret, 0u);
    EXPECT_EQ(at, msecs(4));  // expires j0 + 3 at 0.5 ms; wheel bucket j0 + 4: the 4 ms tick
    EXPECT_TRUE(c.wait.head.empty());
}

TEST(Completion, TimeoutReturnsRemainingJiffiesWhenCompleted) {
    sim m(cpus(1));
    completion c;
    unsigned long ret = 0, at_once = 0, zero = 99;
    nsec_t at = -1;
    m.spawn({.name = "waiter"}, [&] {
        burn(usecs(500));
        syscall_section sys;
        zero = wait_for_completion_timeout(c, 0);  // not done, no time: 0 at once
        ret = wait_for_completion_timeout(c, 10);
        at = m.now();
        complete(c);
        at_once = wait_for_completion_timeout(c, 5);  // already done: all of it left
    });
    m.request_irq(kDevIrq, "dev", [&] { complete(c); });
    m.raise_irq(usecs(3300), 0, kDevIrq);
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(zero, 0u);
    EXPECT_EQ(ret, 7u);  // expire = j0 + 10, jiffies = j0 + 3 at 3.3 ms
    EXPECT_EQ(at, usecs(3300));
    EXPECT_EQ(at_once, 5u);
    EXPECT_EQ(c.done, 0u);
}

TEST(Completion, TryWaitConsumesOneCompletion) {
    sim m(cpus(1));
    std::vector<bool> got;
    bool done_before = true, done_after = false;
    m.spawn({.name = "t"}, [&] {
        completion c;
        init_completion(c);
        done_before = completion_done(c);
        got.push_back(try_wait_for_completion(c));  // false: nothing yet
        complete(c);
        complete(c);
        done_after = completion_done(c);
        got.push_back(try_wait_for_completion(c));  // true
        got.push_back(try_wait_for_completion(c));  // true
        got.push_back(try_wait_for_completion(c));  // false: both consumed
        complete_all(c);
        got.push_back(try_wait_for_completion(c));  // complete_all: always true
        got.push_back(try_wait_for_completion(c));
    });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_FALSE(done_before);
    EXPECT_TRUE(done_after);
    EXPECT_EQ(got, (std::vector<bool>{false, true, true, false, true, true}));
}

// ---- mutexes -------------------------------------------------------------

TEST(Mutex, MutualExclusionAcrossCpus) {
    sim m(cpus(2));
    mutex mx;
    int counter = 0;
    int inside = 0, max_inside = 0;
    constexpr int kRounds = 50;
    for (int c = 0; c < 2; ++c) {
        m.spawn({.name = "inc" + std::to_string(c), .cpus = {c}, .cpu = c}, [&] {
            syscall_section sys;
            for (int i = 0; i < kRounds; ++i) {
                mutex_lock(mx);
                max_inside = std::max(max_inside, ++inside);
                const int seen = counter;
                burn(usecs(10));  // the other CPU runs meanwhile
                counter = seen + 1;
                --inside;
                mutex_unlock(mx);
                burn(usecs(3));
            }
        });
    }
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(counter, 2 * kRounds);
    EXPECT_EQ(max_inside, 1);
    EXPECT_FALSE(mutex_is_locked(mx));
}

TEST(Mutex, BlockedWaiterSleepsAndIsWokenAtUnlock) {
    sim m(cpus(2));
    mutex mx;
    nsec_t acquired = -1;
    unsigned waiter_state_seen = ~0u;
    bool trylock_failed = false;
    task_struct& w = m.spawn({.name = "waiter", .cpus = {1}, .cpu = 1}, [&] {
        burn(msecs(1));
        syscall_section sys;
        trylock_failed = !mutex_trylock(mx);
        mutex_lock(mx);
        acquired = m.now();
        burn(usecs(500));
        mutex_unlock(mx);
    });
    m.spawn({.name = "owner", .cpus = {0}, .cpu = 0}, [&] {
        syscall_section sys;
        mutex_lock(mx);
        burn(msecs(2));
        waiter_state_seen = w.state();  // at 2 ms the waiter sleeps
        burn(msecs(1));
        mutex_unlock(mx);
    });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_TRUE(trylock_failed);
    EXPECT_EQ(waiter_state_seen, TASK_UNINTERRUPTIBLE);
    EXPECT_EQ(acquired, msecs(3));
    EXPECT_EQ(w.exit_time, usecs(3500));
    EXPECT_EQ(w.nvcsw, 2u);  // it blocked once, and the exit switch (TASK_DEAD) counts too
    EXPECT_EQ(m.kern().cpu(1).acct.bucket[int(cpu_bucket::idle)], msecs(2));  // slept 1..3 ms
}

TEST(Mutex, LockFromAtomicContextReportsSleepingFunctionBug) {
    sim m(cpus(1));
    mutex mx;
    unsigned line = 0;
    int pid = -1;
    m.spawn({.name = "atomic"}, [&] {
        pid = current().pid;
        syscall_section sys;
        preempt_disable();
        line = __LINE__; mutex_lock(mx);  // uncontended: it does not sleep, but might
        preempt_enable();
        mutex_unlock(mx);
    });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(m.log().count("BUG: sleeping function called from invalid context at tests/locking_test.cpp:" +
                            std::to_string(line)),
              1u);
    EXPECT_EQ(m.log().count("in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: " + std::to_string(pid) +
                            ", name: atomic"),
              1u);
    EXPECT_EQ(m.log().count("preempt_count: 1, expected: 0"), 1u);
    EXPECT_FALSE(mutex_is_locked(mx));
}

// ---- spinlocks -----------------------------------------------------------

TEST(Spinlock, SpinLockRaisesPreemptCountByOne) {
    sim m(cpus(1));
    std::vector<unsigned> counts;
    bool atomic_inside = false, irqs_off_inside = true, trylock_ok = true;
    m.spawn({.name = "t"}, [&] {
        spinlock_t a, b;
        syscall_section sys;
        counts.push_back(preempt_count());
        spin_lock(a);
        counts.push_back(preempt_count());
        atomic_inside = in_atomic();
        irqs_off_inside = irqs_disabled();
        spin_lock(b);
        counts.push_back(preempt_count());
        trylock_ok = spin_trylock(b);  // held: fails and leaves the count alone
        counts.push_back(preempt_count());
        spin_unlock(b);
        counts.push_back(preempt_count());
        spin_unlock(a);
        counts.push_back(preempt_count());
    });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(counts, (std::vector<unsigned>{0, 1, 2, 2, 1, 0}));
    EXPECT_TRUE(atomic_inside);
    EXPECT_FALSE(irqs_off_inside);
    EXPECT_FALSE(trylock_ok);
    EXPECT_EQ(m.log().entries().size(), 0u);
}

TEST(Spinlock, IrqFormsDisableAndRestoreInterrupts) {
    sim m(cpus(1));
    std::vector<bool> irqs;
    std::vector<unsigned> counts;
    m.spawn({.name = "t"}, [&] {
        spinlock_t l;
        syscall_section sys;
        spin_lock_irq(l);
        irqs.push_back(irqs_disabled());  // true
        counts.push_back(preempt_count());
        spin_unlock_irq(l);
        irqs.push_back(irqs_disabled());  // false
        counts.push_back(preempt_count());
        // irqsave from irqs on: restored on.
        irqflags_t f = spin_lock_irqsave(l);
        irqs.push_back(irqs_disabled());  // true
        counts.push_back(preempt_count());
        spin_unlock_irqrestore(l, f);
        irqs.push_back(irqs_disabled());  // false
        // irqsave from irqs off: restored off.
        local_irq_disable();
        f = spin_lock_irqsave(l);
        spin_unlock_irqrestore(l, f);
        irqs.push_back(irqs_disabled());  // true
        counts.push_back(preempt_count());
        local_irq_enable();
        irqs.push_back(irqs_disabled());  // false
    });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(irqs, (std::vector<bool>{true, false, true, false, true, false}));
    EXPECT_EQ(counts, (std::vector<unsigned>{1, 0, 1, 0}));
}

// A device interrupt at 1.5 ms hits a task that holds a lock from 1 ms to
// 3 ms in the given form; returns when its handler ran.
template <class Section>
nsec_t irq_delivery_during(Section section) {
    sim m(cpus(1));
    nsec_t handled = -1;
    m.spawn({.name = "holder"}, [&] {
        burn(msecs(1));
        syscall_section sys;
        section();
        burn(msecs(1));
    });
    m.request_irq(kDevIrq, "dev", [&] { handled = m.now(); });
    m.raise_irq(usecs(1500), 0, kDevIrq);
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    return handled;
}

TEST(Spinlock, IrqArrivingUnderSpinLockIrqIsDeliveredAtUnlock) {
    EXPECT_EQ(irq_delivery_during([] {
                  spinlock_t l;
                  spin_lock_irq(l);
                  burn(msecs(2));
                  spin_unlock_irq(l);
              }),
              msecs(3));
    EXPECT_EQ(irq_delivery_during([] {
                  spinlock_t l;
                  const irqflags_t f = spin_lock_irqsave(l);
                  burn(msecs(2));
                  spin_unlock_irqrestore(l, f);
              }),
              msecs(3));
    // A plain spin_lock leaves interrupts on: delivered at its instant.
    EXPECT_EQ(irq_delivery_during([] {
                  spinlock_t l;
                  spin_lock(l);
                  burn(msecs(2));
                  spin_unlock(l);
              }),
              usecs(1500));
}

TEST(Spinlock, SecondCpuSpinsUntilTheHolderReleases) {
    sim m(cpus(2));
    spinlock_t l;
    nsec_t released = -1, acquired = -1;
    nsec_t spinner_irq = -1;
    task_struct& spinner = m.spawn({.name = "spinner", .cpus = {1}, .cpu = 1}, [&] {
        burn(usecs(500));
        syscall_section sys;
        spin_lock(l);
        acquired = m.now();
        burn(usecs(100));
        spin_unlock(l);
    });
    m.spawn({.name = "holder", .cpus = {0}, .cpu = 0}, [&] {
        syscall_section sys;
        spin_lock(l);
        burn(msecs(2));
        released = m.now();
        spin_unlock(l);
    });
    // A spinner with interrupts on still takes them at their instant.
    m.request_irq(kDevIrq2, "dev2", [&] { spinner_irq = m.now(); });
    m.raise_irq(usecs(1200), 1, kDevIrq2);
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(released, msecs(2));
    EXPECT_EQ(acquired, msecs(2));
    EXPECT_EQ(spinner_irq, usecs(1200));
    EXPECT_EQ(spinner.exit_time, usecs(2100));
    EXPECT_EQ(spinner.nvcsw, 1u);  // only the exit switch: spinning is not sleeping
    EXPECT_EQ(spinner.nivcsw, 0u);
    // The 1.5 ms of spinning is the spinner's own system time.
    EXPECT_EQ(spinner.stime, usecs(1600));
    EXPECT_EQ(spinner.utime, usecs(500));
}

}  // namespace
}  // namespace kp
