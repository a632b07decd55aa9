// context_switch and its bookkeeping (spec 5.3, 11): preempt notifiers
// (sched_out before the switch with the next task, sched_in after it with
// the CPU; most recent first; never without a switch; the static key's
// warning), the lazy-TLB mm hand-over, finish_task_switch's preempt_count
// invariant, and the voluntary / involuntary switch counts.
//
// HZ 1000 and zero costs: times are exact.
#include <gtest/gtest.h>

#include <string>
#include <type_traits>
#include <vector>

#include "kpreempt/kpreempt.h"
#include "kernel/sched/notifier.h"
#include "test_util.h"

namespace kp {
namespace {

// One notifier call as a test sees it, with the context it ran in.
struct notifier_call {
    int id;
    bool out;       // sched_out (else sched_in)
    nsec_t time;
    int arg;        // sched_out: next's pid; sched_in: the cpu argument
    int cpu;        // smp_processor_id() in the callback
    bool irqs_off;
    bool rq_locked;
    int next_on_cpu;  // sched_out: next->on_cpu (0 = not switched to yet)
};

// Embeds the kernel's preempt_notifier first, like Linux's container_of use.
struct test_notifier {
    preempt_notifier n;
    int id = 0;
    std::vector<notifier_call>* calls = nullptr;
};
static_assert(std::is_standard_layout_v<test_notifier>);

test_notifier& of(preempt_notifier* n) { return *reinterpret_cast<test_notifier*>(n); }

notifier_call call_here(int id, bool out, int arg) {
    return {id, out, this_kernel().arch().now(), arg, smp_processor_id(), irqs_disabled(),
            this_rq().lock.is_locked(), -1};
}

void record_sched_in(preempt_notifier* n, int cpu) {
    test_notifier& t = of(n);
    t.calls->push_back(call_here(t.id, false, cpu));
}

void record_sched_out(preempt_notifier* n, task_struct* next) {
    test_notifier& t = of(n);
    notifier_call c = call_here(t.id, true, next->pid);
    c.next_on_cpu = next->on_cpu.load();
    t.calls->push_back(c);
}

const preempt_ops test_ops = {record_sched_in, record_sched_out};

void init_notifier(test_notifier& t, int id, std::vector<notifier_call>& calls) {
    preempt_notifier_init(t.n, test_ops);
    t.id = id;
    t.calls = &calls;
}

// One CPU: A (SCHED_NORMAL) registers the notifiers and burns 3 ms; an
// interrupt at 1.5 ms wakes B (FIFO), which burns 1 ms: A is switched out
// at 1.5 ms and back in at 2.5 ms.
struct notifier_run {
    std::vector<notifier_call> calls;
    int a_pid = -1;
    int b_pid = -1;
    std::size_t warnings = 0;
};

notifier_run preempted_with_notifiers(int count, int key_incs) {
    notifier_run r;
    sim m({.nr_cpus = 1});
    std::vector<test_notifier> ns(static_cast<std::size_t>(count));
    task_struct& b = m.spawn(
        {.name = "B", .policy = sched_policy::fifo, .priority = 50, .start_stopped = true}, [] { burn(msecs(1)); });
    task_struct& a = m.spawn({.name = "A"}, [&] {
        for (int i = 0; i < key_incs; ++i) preempt_notifier_inc();
        for (int i = 0; i < count; ++i) {
            init_notifier(ns[std::size_t(i)], i + 1, r.calls);
            preempt_notifier_register(ns[std::size_t(i)].n);
        }
        burn(msecs(3));
        // Unregistered before exit, so that the exit switch adds nothing.
        for (auto& t : ns) preempt_notifier_unregister(t.n);
        for (int i = 0; i < key_incs; ++i) preempt_notifier_dec();
    });
    m.request_irq(1, "dev", [&b] { wake_up_process(b); });
    m.raise_irq(usecs(1500), 0, 1);
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    r.a_pid = a.pid;
    r.b_pid = b.pid;
    r.warnings = m.log().count("registering preempt_notifier while notifiers disabled");
    return r;
}

TEST(PreemptNotifier, SchedOutBeforeTheSwitchSchedInAfterIt) {
    const auto r = preempted_with_notifiers(1, 1);
    ASSERT_EQ(r.calls.size(), 2u);
    const notifier_call& out = r.calls[0];
    EXPECT_TRUE(out.out);
    EXPECT_EQ(out.time, usecs(1500));
    EXPECT_EQ(out.arg, r.b_pid);  // the next task
    EXPECT_TRUE(out.irqs_off);    // prepare_task_switch: rq locked, irqs off
    EXPECT_TRUE(out.rq_locked);
    EXPECT_EQ(out.next_on_cpu, 0);  // next is not on the CPU yet
    const notifier_call& in = r.calls[1];
    EXPECT_FALSE(in.out);
    EXPECT_EQ(in.time, usecs(2500));
    EXPECT_EQ(in.arg, 0);  // the CPU number
    EXPECT_EQ(in.cpu, 0);
    EXPECT_FALSE(in.irqs_off);  // finish_task_switch: unlocked, irqs on
    EXPECT_FALSE(in.rq_locked);
    EXPECT_EQ(r.warnings, 0u);
}

TEST(PreemptNotifier, MostRecentlyRegisteredFiresFirstBothWays) {
    const auto r = preempted_with_notifiers(3, 1);
    std::vector<std::pair<bool, int>> order;
    for (const auto& c : r.calls) order.push_back({c.out, c.id});
    const std::vector<std::pair<bool, int>> want = {{true, 3}, {true, 2}, {true, 1},
                                                    {false, 3}, {false, 2}, {false, 1}};
    EXPECT_EQ(order, want);
}

TEST(PreemptNotifier, RegisteringWhileTheKeyIsOffWarnsAndNothingFires) {
    sim m({.nr_cpus = 1});
    std::vector<notifier_call> calls;
    test_notifier t;
    task_struct& b = m.spawn(
        {.name = "B", .policy = sched_policy::fifo, .priority = 50, .start_stopped = true}, [] { burn(msecs(1)); });
    task_struct& a = m.spawn({.name = "A"}, [&] {
        init_notifier(t, 1, calls);
        preempt_notifier_register(t.n);  // no preempt_notifier_inc()
        burn(msecs(3));
        preempt_notifier_unregister(t.n);
    });
    m.request_irq(1, "dev", [&b] { wake_up_process(b); });
    m.raise_irq(usecs(1500), 0, 1);
    ASSERT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(m.log().count("registering preempt_notifier while notifiers disabled"), 1u);
    EXPECT_EQ(m.log().count("WARNING: CPU: 0 PID: " + std::to_string(a.pid) +
                            " at kernel/sched/core.c preempt_notifier_register"),
              1u);
    EXPECT_TRUE(calls.empty());  // the static key gates the firing too
    EXPECT_EQ(b.first_run, usecs(1500));  // the switch itself happened
}

TEST(PreemptNotifier, TheKeyIsRefcounted) {
    // Two incs and one dec leave it on: no warning, both calls fire.
    sim m({.nr_cpus = 1});
    std::vector<notifier_call> calls;
    test_notifier t;
    task_struct& b = m.spawn(
        {.name = "B", .policy = sched_policy::fifo, .priority = 50, .start_stopped = true}, [] { burn(msecs(1)); });
    m.spawn({.name = "A"}, [&] {
        preempt_notifier_inc();
        preempt_notifier_inc();
        preempt_notifier_dec();
        init_notifier(t, 1, calls);
        preempt_notifier_register(t.n);
        burn(msecs(3));  // preempted at 1.5 ms, back at 2.5 ms
        preempt_notifier_dec();  // off: the next preemption is not reported
        burn(msecs(3));          // preempted at 4.5 ms, back at 5.5 ms
        preempt_notifier_unregister(t.n);
    });
    m.request_irq(1, "dev", [&b] { wake_up_process(b); });
    m.raise_irq(usecs(1500), 0, 1);
    m.raise_irq(usecs(4500), 0, 1);
    ASSERT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(m.log().count("registering preempt_notifier"), 0u);
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_EQ(calls[0].time, usecs(1500));
    EXPECT_EQ(calls[1].time, usecs(2500));
}

TEST(PreemptNotifier, NotFiredWithoutASwitch) {
    sim m({.nr_cpus = 1});
    std::vector<notifier_call> calls;
    test_notifier t;
    std::uint64_t switches_before = 0, switches_after = 0;
    std::uint64_t nvcsw_before = 0, nvcsw_after = 0;
    m.spawn({.name = "alone"}, [&] {
        preempt_notifier_inc();
        init_notifier(t, 1, calls);
        preempt_notifier_register(t.n);
        switches_before = this_rq().nr_switches;
        nvcsw_before = current().nvcsw;
        {
            syscall_section sys;
            for (int i = 0; i < 3; ++i) schedule();  // TASK_RUNNING, nobody else: prev == next
            cond_resched();
            do_sched_yield();
        }
        burn(msecs(5));  // five ticks, nothing to switch to
        switches_after = this_rq().nr_switches;
        nvcsw_after = current().nvcsw;
        preempt_notifier_unregister(t.n);
        preempt_notifier_dec();
    });
    ASSERT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_TRUE(calls.empty());
    EXPECT_EQ(switches_after, switches_before);
    EXPECT_EQ(nvcsw_after, nvcsw_before);  // no switch, nothing counted
}

TEST(PreemptNotifier, SchedInGetsTheCpuTheTaskResumesOn) {
    // Two CPUs. A runs on CPU 0 with a hog pinned there queued behind it.
    // A waits; an interrupt on CPU 0 at 2.5 ms wakes it, and
    // select_task_rq finds CPU 0 busy and CPU 1 idle.
    sim m({.nr_cpus = 2});
    std::vector<notifier_call> calls;
    test_notifier t;
    completion c;
    init_completion(c);
    task_struct& a = m.spawn({.name = "A", .cpu = 0}, [&] {
        preempt_notifier_inc();
        init_notifier(t, 1, calls);
        preempt_notifier_register(t.n);
        burn(msecs(1));
        wait_for_completion(c);
        burn(msecs(1));
        preempt_notifier_unregister(t.n);
        preempt_notifier_dec();
    });
    task_struct& hog = m.spawn({.name = "hog", .cpus = {0}, .cpu = 0}, [] { burn(msecs(10)); });
    m.request_irq(1, "dev", [&c] { complete(c); });
    m.raise_irq(usecs(2500), 0, 1);
    ASSERT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_TRUE(calls[0].out);
    EXPECT_EQ(calls[0].time, msecs(1));
    EXPECT_EQ(calls[0].arg, hog.pid);
    EXPECT_EQ(calls[0].cpu, 0);
    EXPECT_FALSE(calls[1].out);
    EXPECT_EQ(calls[1].time, usecs(2500));  // the IPI wakes CPU 1's idle loop at once
    EXPECT_EQ(calls[1].arg, 1);             // resumed on CPU 1
    EXPECT_EQ(calls[1].cpu, 1);
    EXPECT_EQ(a.exit_time, usecs(3500));
}

// mm bookkeeping. One CPU: user task U (FIFO 10) wakes kernel thread K
// (FIFO 20) inside a syscall at 1 ms; FULL switches at the wakeup's
// preempt_enable; K runs 1 ms and exits; U resumes at 2 ms.
TEST(MmSwitch, KernelThreadBorrowsTheUsersMmAndGivesItBack) {
    sim m({.nr_cpus = 1, .model = preempt_mode::full});
    rq& rq0 = cpu_rq(m.kern(), 0);
    struct seen {
        mm_struct* active_mm = nullptr;
        int mm_count = 0;
        std::uint64_t lazy = 0, mm_switches = 0;
    } before, in_k, after;
    mm_struct* umm = nullptr;
    task_struct& k = m.spawn({.name = "K", .policy = sched_policy::fifo, .priority = 20, .kthread = true,
                              .start_stopped = true},
                             [&] {
                                 in_k = {current().active_mm, umm->mm_count.load(), rq0.nr_lazy_tlb_switches,
                                         rq0.nr_mm_switches};
                                 burn(msecs(1));
                             });
    task_struct& u = m.spawn({.name = "U", .policy = sched_policy::fifo, .priority = 10}, [&] {
        burn(msecs(1));
        {
            syscall_section sys;
            before = {current().active_mm, umm->mm_count.load(), rq0.nr_lazy_tlb_switches, rq0.nr_mm_switches};
            wake_up_process(k);  // K runs from here, 1 ms
            after = {current().active_mm, umm->mm_count.load(), rq0.nr_lazy_tlb_switches, rq0.nr_mm_switches};
        }
        burn(msecs(1));
    });
    umm = u.mm;
    ASSERT_NE(umm, nullptr);
    EXPECT_EQ(k.mm, nullptr);
    ASSERT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(k.first_run, msecs(1));
    EXPECT_EQ(k.exit_time, msecs(2));

    EXPECT_EQ(before.active_mm, umm);
    EXPECT_EQ(before.mm_count, 1);
    // U -> K: K runs on U's page tables (lazy TLB), pinning the mm_struct.
    EXPECT_EQ(in_k.active_mm, umm);
    EXPECT_EQ(in_k.mm_count, 2);
    EXPECT_EQ(in_k.lazy, before.lazy + 1);
    EXPECT_EQ(in_k.mm_switches, before.mm_switches);
    // K -> U: the same mm is loaded, so no switch_mm; the borrowed
    // reference is dropped after the switch (finish_task_switch).
    EXPECT_EQ(after.active_mm, umm);
    EXPECT_EQ(after.mm_count, 1);
    EXPECT_EQ(after.lazy, before.lazy + 1);
    EXPECT_EQ(after.mm_switches, before.mm_switches);
    EXPECT_EQ(k.active_mm, nullptr);
    EXPECT_EQ(umm->mm_users.load(), 0);  // U exited
}

// One CPU: U1 (SCHED_NORMAL, 2 ms), U2 (FIFO, woken by an interrupt at
// 1 ms, 0.5 ms). Switches: idle -> U1 (0), U1 -> U2 (1 ms), U2 -> U1
// (1.5 ms, U2 dead), U1 -> idle (2.5 ms, U1 dead).
TEST(MmSwitch, UserToUserSwitchesTheMmAndExitedMmsAreFreed) {
    sim m({.nr_cpus = 1});
    rq& rq0 = cpu_rq(m.kern(), 0);
    const int init_mm_count = m.kern().init_mm.mm_count.load();
    task_struct& u2 = m.spawn(
        {.name = "U2", .policy = sched_policy::fifo, .priority = 50, .start_stopped = true},
        [] { burn(usecs(500)); });
    task_struct& u1 = m.spawn({.name = "U1"}, [] { burn(msecs(2)); });
    mm_struct* mm1 = u1.mm;
    mm_struct* mm2 = u2.mm;
    m.request_irq(1, "dev", [&u2] { wake_up_process(u2); });
    m.raise_irq(msecs(1), 0, 1);
    ASSERT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(u1.exit_time, usecs(2500));
    // idle(init_mm) -> U1, U1 -> U2, U2(dead, still on mm2) -> U1.
    EXPECT_EQ(rq0.nr_mm_switches, 3u);
    // U1(dead) -> idle: the idle task keeps mm1 loaded, lazily.
    EXPECT_EQ(rq0.nr_lazy_tlb_switches, 1u);
    EXPECT_EQ(m.kern().cpu(0).idle->active_mm, mm1);
    // Every mm reference accounted for, as in Linux: mm1 is pinned only by
    // the idle task's lazy reference; mm2 is gone (mmput's mmdrop plus the
    // lazy reference dropped at the U2 -> U1 switch); the idle task gave
    // back its boot-time reference to init_mm when it first ran a user task.
    EXPECT_EQ(mm1->mm_users.load(), 0);
    EXPECT_EQ(mm1->mm_count.load(), 1);
    EXPECT_EQ(mm2->mm_users.load(), 0);
    EXPECT_EQ(mm2->mm_count.load(), 0);
    EXPECT_EQ(m.kern().init_mm.mm_count.load(), init_mm_count - 1);
}

TEST(MmSwitch, EveryIdleTaskHoldsAnInitMmReference) {
    sim m({.nr_cpus = 4});
    // mm_count starts at 1 for init_mm itself, plus one per idle task's
    // active_mm (mmgrab_lazy_tlb in sched_init / cpu_init).
    EXPECT_EQ(m.kern().init_mm.mm_count.load(), 1 + 4);
    for (int c = 0; c < 4; ++c) EXPECT_EQ(m.kern().cpu(c).idle->active_mm, &m.kern().init_mm);
    // Two user tasks on two CPUs: those two idle tasks drop init_mm.
    m.spawn({.name = "a"}, [] { burn(msecs(1)); });
    m.spawn({.name = "b"}, [] { burn(msecs(1)); });
    ASSERT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(m.kern().init_mm.mm_count.load(), 1 + 2);
}

// finish_task_switch checks that the count is exactly 2 (schedule's own
// disable plus the rq lock). A busy mixed workload must never trip it.
void busy_mixed_workload(preempt_mode model) {
    sim m({.nr_cpus = 2, .model = model});
    completion done;
    init_completion(done);
    spinlock_t lock;
    mutex mtx;
    task_struct& rt = m.spawn({.name = "rt", .policy = sched_policy::fifo, .priority = 40, .start_stopped = true},
                              [&] { burn(usecs(300)); });
    for (int i = 0; i < 4; ++i) {
        m.spawn({.name = "w" + std::to_string(i), .nice = i - 2}, [&, i] {
            for (int j = 0; j < 10; ++j) {
                burn(usecs(300 + 100 * i));
                syscall_section sys;
                {
                    spin_lock(lock);
                    burn(usecs(50));
                    spin_unlock(lock);
                }
                mutex_lock(mtx);
                burn(usecs(200));
                might_sleep();
                mutex_unlock(mtx);
                cond_resched();
                if (j % 3 == 0) msleep(1);
            }
            if (i == 0) complete(done);
        });
    }
    m.spawn({.name = "k", .kthread = true}, [&] {
        wait_for_completion(done);
        burn(msecs(1));
    });
    m.request_irq(1, "dev", [&rt] {
        burn(usecs(20));
        wake_up_process(rt);
    });
    m.raise_irq(usecs(2300), 1, 1);
    EXPECT_EQ(m.run(secs(2)), sim_machine::stop_reason::all_exited) << m.log().dmesg();
    EXPECT_GT(cpu_rq(m.kern(), 0).nr_switches + cpu_rq(m.kern(), 1).nr_switches, 40u);
    EXPECT_EQ(m.log().count("corrupted preempt_count"), 0u) << m.log().dmesg();
    EXPECT_EQ(m.log().count("BUG:"), 0u) << m.log().dmesg();
    EXPECT_EQ(m.log().count("WARNING:"), 0u) << m.log().dmesg();
}

TEST(FinishTaskSwitch, CountInvariantHoldsUnderFull) { busy_mixed_workload(preempt_mode::full); }
TEST(FinishTaskSwitch, CountInvariantHoldsUnderVoluntary) { busy_mixed_workload(preempt_mode::voluntary); }
TEST(FinishTaskSwitch, CountInvariantHoldsUnderNone) { busy_mixed_workload(preempt_mode::none); }

// One CPU. S (FIFO 50) waits for a completion five times; each interrupt
// (1.5, 3.5, 5.5, 7.5, 9.5 ms) completes it, S runs 0.5 ms and waits again.
// P (SCHED_NORMAL) burns 15 ms in user mode and loses the CPU to S each time.
TEST(SwitchCounts, BlockingIsVoluntaryBeingPreemptedIsInvoluntary) {
    constexpr int N = 5;
    sim m({.nr_cpus = 1});
    completion c;
    init_completion(c);
    std::uint64_t s_nvcsw = 0, s_nivcsw = 0, p_nvcsw = 0, p_nivcsw = 0;
    m.spawn({.name = "S", .policy = sched_policy::fifo, .priority = 50}, [&] {
        for (int i = 0; i < N; ++i) {
            wait_for_completion(c);
            burn(usecs(500));
        }
        s_nvcsw = current().nvcsw;
        s_nivcsw = current().nivcsw;
    });
    task_struct& p = m.spawn({.name = "P"}, [&] {
        burn(msecs(15));
        p_nvcsw = current().nvcsw;
        p_nivcsw = current().nivcsw;
    });
    m.request_irq(1, "dev", [&c] { complete(c); });
    for (int i = 0; i < N; ++i) m.raise_irq(usecs(1500) + msecs(2) * i, 0, 1);
    ASSERT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(s_nvcsw, std::uint64_t(N));
    EXPECT_EQ(s_nivcsw, 0u);
    EXPECT_EQ(p_nvcsw, 0u);
    EXPECT_EQ(p_nivcsw, std::uint64_t(N));
    EXPECT_EQ(p.exit_time, msecs(15) + N * usecs(500));
    // The final switch away from a dead task is a voluntary one (Linux
    // counts it too); nothing else changes after the bodies' snapshots.
    EXPECT_EQ(p.nvcsw, 1u);
    EXPECT_EQ(p.nivcsw, std::uint64_t(N));
}

}  // namespace
}  // namespace kp
