// Device interrupt lines, NMIs, threaded interrupts and the irq stack: when
// a hardirq is delivered (masked CPU, masked line, oneshot), where it goes
// (affinity), what nests (NMI in hardirq), when an irq thread runs under
// each model, forced threading, and which stack a handler runs on.
//
// One CPU unless said, HZ 1000, zero costs: every instant below is exact.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "kernel/irq/bottom_half.h"
#include "kpreempt/kpreempt.h"
#include "stack_where.h"
#include "test_util.h"

namespace kp {
namespace {

struct hit {
    nsec_t time;
    int cpu;
    std::string comm;
    std::uint32_t count;  // preempt_count
};

hit here(sim& m) { return {m.now(), smp_processor_id(), current().comm, preempt_count()}; }

std::vector<nsec_t> times(const std::vector<hit>& hits) {
    std::vector<nsec_t> out;
    for (const hit& h : hits) out.push_back(h.time);
    return out;
}

irq_desc& desc(sim& m, int irq) { return m.kern().irq_descs[static_cast<std::size_t>(irq)]; }

// A line whose handler records its runs and burns `cost`.
void recording_irq(sim& m, int irq, std::vector<hit>& hits, nsec_t cost = 0) {
    m.request_irq(irq, "dev" + std::to_string(irq), [&m, &hits, cost] {
        hits.push_back(here(m));
        if (cost) burn(cost);
    });
}

cpumask cpus(std::initializer_list<int> list) {
    cpumask mask;
    for (int c : list) mask.set(static_cast<std::size_t>(c));
    return mask;
}

// Arrivals at 200 and 300 us (the same line twice: one pending bit) while
// the task has interrupts off from 100 to 500 us: one delivery, at 500 us
// exactly, inside the local_irq_enable(); the task's work is pushed back by
// the handler's 10 us.
TEST(Irq, HardirqArrivingWithIrqsOffIsDeliveredTheInstantTheyComeBackOn) {
    sim m;
    std::vector<hit> hits;
    recording_irq(m, 3, hits, usecs(10));
    nsec_t enabled_at = -1, done_at = -1;
    m.spawn({.name = "masker", .kthread = true}, [&] {
        burn(usecs(100));
        local_irq_disable();
        burn(usecs(400));
        enabled_at = m.now();
        local_irq_enable();
        burn(usecs(100));
        done_at = m.now();
    });
    m.raise_irq(usecs(200), 0, 3);
    m.raise_irq(usecs(300), 0, 3);
    m.run();
    EXPECT_EQ(enabled_at, usecs(500));
    EXPECT_EQ(times(hits), (std::vector<nsec_t>{usecs(500)}));
    EXPECT_EQ(hits[0].comm, "masker");
    EXPECT_EQ(done_at, usecs(610));
    EXPECT_EQ(desc(m, 3).count_per_cpu[0], 1u);
    EXPECT_EQ(desc(m, 3).time_per_cpu[0], usecs(10));
}

// A hardirq handler runs 100-200 us (plus the NMI's 20 us); an NMI at 150 us
// is taken inside it at once, with NMI_OFFSET + HARDIRQ_OFFSET on top of the
// handler's HARDIRQ_OFFSET. A second NMI at 160 us waits for the first one's
// end (NMIs do not nest), and a third, at 500 us, is taken although the task
// has interrupts off.
TEST(Irq, NmiNestsInsideAHardirqAndIsTakenWithIrqsOff) {
    sim m;
    std::vector<hit> irqs, nmis;
    recording_irq(m, 1, irqs, usecs(100));
    register_nmi_handler(m.kern(), "test", [&] {
        nmis.push_back(here(m));
        EXPECT_TRUE(in_nmi());
        EXPECT_TRUE(in_hardirq());
        EXPECT_TRUE(irqs_disabled());
        burn(usecs(20));
    });
    nsec_t handler_end = -1;
    m.spawn({.name = "t", .kthread = true}, [&] {
        burn(usecs(300));
        handler_end = m.now();  // the task's 300 us of work, pushed back
        irq_guard off;
        burn(usecs(200));
    });
    m.raise_irq(usecs(100), 0, 1);
    m.raise_nmi(usecs(150), 0);
    m.raise_nmi(usecs(160), 0);
    m.raise_nmi(usecs(500), 0);
    m.run();
    ASSERT_EQ(nmis.size(), 3u);
    EXPECT_EQ(times(nmis), (std::vector<nsec_t>{usecs(150), usecs(170), usecs(500)}));
    EXPECT_EQ(nmis[0].count, HARDIRQ_OFFSET + NMI_OFFSET + HARDIRQ_OFFSET);
    EXPECT_EQ(nmis[2].count, NMI_OFFSET + HARDIRQ_OFFSET);
    EXPECT_EQ(desc(m, 1).time_per_cpu[0], usecs(140));  // its 100 us and the two NMIs inside
    EXPECT_EQ(handler_end, usecs(300 + 140));
    EXPECT_EQ(m.kern().cpu(0).nmi_count, 3u);
    EXPECT_EQ(m.kern().cpu(0).nmi_time, usecs(60));
}

// The threaded-interrupt case: a SCHED_NORMAL task in a long
// syscall (2.5 ms of work, cond_resched(), 1 ms more); at 1 ms a line's
// primary handler (10 us) returns IRQ_WAKE_THREAD. The irq thread
// (SCHED_FIFO 50) runs at the irq's exit under FULL, and under NONE and
// VOLUNTARY only at the cond_resched() at 2.51 ms.
nsec_t irq_thread_first_run(preempt_mode model, std::string* comm = nullptr, int* prio = nullptr) {
    sim m({.model = model});
    nsec_t ran = -1;
    m.spawn({.name = "syscaller"}, [] {
        syscall_section sys;
        burn(usecs(2500));
        cond_resched();
        burn(usecs(1000));
    });
    const int err = request_threaded_irq(
        m.kern(), 7,
        [](int) {
            burn(usecs(10));
            return irqreturn::wake_thread;
        },
        [&](int) {
            ran = m.now();
            if (comm) *comm = current().comm;
            if (prio) *prio = current().rt_priority;
            burn(usecs(100));
            return irqreturn::handled;
        },
        0, "nic");
    EXPECT_EQ(err, 0);
    m.raise_irq(msecs(1), 0, 7);
    m.run();
    return ran;
}

TEST(Irq, ThreadedHandlerPreemptsNormalAtOnceUnderFullOnlyAtLivepointUnderNone) {
    std::string comm;
    int prio = 0;
    EXPECT_EQ(irq_thread_first_run(preempt_mode::full, &comm, &prio), usecs(1010));
    EXPECT_EQ(comm, "irq/7-nic");
    EXPECT_EQ(prio, 50);
    EXPECT_EQ(irq_thread_first_run(preempt_mode::voluntary), usecs(2510));
    EXPECT_EQ(irq_thread_first_run(preempt_mode::none), usecs(2510));
}

// A threaded line: primary records and wakes the thread, the thread works
// 200 us. Arrivals at 100 and 150 us. With IRQF_ONESHOT the line stays
// masked while the thread runs: the second hardirq comes at the thread's end
// (300 us), the instant the line is unmasked. Without it the second hardirq
// is taken at 150 us and only marks the running thread to run again.
std::vector<nsec_t> oneshot_case(unsigned flags, std::vector<nsec_t>* thread_runs) {
    sim m;
    std::vector<hit> primaries;
    m.spawn({.name = "busy"}, [] { burn(msecs(1)); });
    request_threaded_irq(
        m.kern(), 2,
        [&](int) {
            primaries.push_back(here(m));
            return irqreturn::wake_thread;
        },
        [&](int) {
            thread_runs->push_back(m.now());
            burn(usecs(200));
            return irqreturn::handled;
        },
        flags, "disk");
    m.raise_irq(usecs(100), 0, 2);
    m.raise_irq(usecs(150), 0, 2);
    m.run();
    return times(primaries);
}

TEST(Irq, OneshotLineStaysMaskedUntilItsThreadHasRun) {
    std::vector<nsec_t> runs;
    EXPECT_EQ(oneshot_case(IRQF_ONESHOT, &runs), (std::vector<nsec_t>{usecs(100), usecs(300)}));
    EXPECT_EQ(runs, (std::vector<nsec_t>{usecs(100), usecs(300)}));
    runs.clear();
    EXPECT_EQ(oneshot_case(0, &runs), (std::vector<nsec_t>{usecs(100), usecs(150)}));
    EXPECT_EQ(runs, (std::vector<nsec_t>{usecs(100), usecs(300)}));
}

// disable_irq() masks the line: an arrival meanwhile is delivered at
// enable_irq(), at that instant, in the enabling task's context.
TEST(Irq, DisabledLineDeliversAtEnableIrq) {
    sim m;
    std::vector<hit> hits;
    recording_irq(m, 4, hits);
    m.spawn({.name = "driver", .kthread = true}, [&] {
        disable_irq(m.kern(), 4);
        disable_irq(m.kern(), 4);  // nests
        burn(usecs(500));
        enable_irq(m.kern(), 4);
        burn(usecs(100));
        enable_irq(m.kern(), 4);
        burn(usecs(100));
    });
    m.raise_irq(usecs(100), 0, 4);
    m.run();
    EXPECT_EQ(times(hits), (std::vector<nsec_t>{usecs(600)}));
    EXPECT_EQ(hits[0].comm, "driver");
}

// A device firing every 100 us from 100 us on, routed by its line's
// affinity; at 350 us a task moves the line to CPU 1.
TEST(Irq, ArrivalsFollowTheLinesAffinity) {
    sim m({.nr_cpus = 2});
    std::vector<hit> hits;
    recording_irq(m, 5, hits);
    m.spawn({.name = "mover", .cpus = {0}}, [&] {
        burn(usecs(350));
        irq_set_affinity(m.kern(), 5, cpus({1}));
        burn(usecs(300));
    });
    m.machine().attach_device(5, {.start = usecs(100), .period = usecs(100), .stop = usecs(600)});
    m.run();
    ASSERT_EQ(hits.size(), 6u);
    EXPECT_EQ(times(hits), (std::vector<nsec_t>{usecs(100), usecs(200), usecs(300), usecs(400), usecs(500),
                                                usecs(600)}));
    for (std::size_t i = 0; i < hits.size(); ++i) EXPECT_EQ(hits[i].cpu, i < 3 ? 0 : 1) << i;
    EXPECT_EQ(desc(m, 5).count_per_cpu, (std::vector<std::uint64_t>{3, 3}));
}

// Periodic bursts, and a Poisson stream that is the same for the same seed.
TEST(Irq, PeriodicBurstAndPoissonArrivals) {
    sim m;
    std::vector<hit> hits;
    recording_irq(m, 0, hits);
    m.spawn({.name = "t", .kthread = true}, [] { burn(msecs(2)); });
    m.machine().attach_device(
        0, {.start = usecs(100), .period = msecs(1), .burst = 3, .burst_gap = usecs(10), .stop = msecs(2)});
    m.run();
    EXPECT_EQ(times(hits), (std::vector<nsec_t>{usecs(100), usecs(110), usecs(120), usecs(1100), usecs(1110),
                                                usecs(1120)}));

    auto poisson = [](std::uint64_t seed) {
        sim p;
        std::vector<hit> h;
        recording_irq(p, 0, h);
        p.spawn({.name = "t", .kthread = true}, [] { burn(msecs(100)); });
        p.machine().attach_device(0, {.rate_hz = 10000, .stop = msecs(100), .seed = seed});
        p.run();
        return times(h);
    };
    const std::vector<nsec_t> a = poisson(1), b = poisson(1), c = poisson(2);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, c);
    EXPECT_GT(a.size(), 850u);  // 1000 expected in 100 ms at 10 kHz
    EXPECT_LT(a.size(), 1150u);
}

// threadirqs: a plain handler runs in "irq/6-eth" with bottom halves and
// interrupts off, not in hardirq context; the NET_RX it raises runs at the
// thread's local_bh_enable(). A softirq raised by an IRQF_NO_THREAD line's
// real hardirq goes to ksoftirqd at irq exit.
TEST(Irq, ForcedThreadingRunsHandlersInTheirThreads) {
    kernel_config cfg;
    cfg.threadirqs = true;
    sim m(cfg);
    std::vector<hit> handler, rx, block;
    open_softirq(m.kern(), NET_RX_SOFTIRQ, [&] { rx.push_back(here(m)); });
    open_softirq(m.kern(), BLOCK_SOFTIRQ, [&] { block.push_back(here(m)); });
    m.request_irq(6, "eth", [&] {
        handler.push_back(here(m));
        EXPECT_FALSE(in_hardirq());
        EXPECT_TRUE(irqs_disabled());
        EXPECT_TRUE(in_softirq());  // bh disabled
        raise_softirq_irqoff(NET_RX_SOFTIRQ);
        burn(usecs(20));
    });
    request_irq(
        m.kern(), 8, "timerish",
        [](int) {
            raise_softirq_irqoff(BLOCK_SOFTIRQ);
            return irqreturn::handled;
        },
        IRQF_NO_THREAD);
    m.spawn({.name = "user"}, [] { burn(msecs(1)); });
    m.raise_irq(usecs(100), 0, 6);
    m.raise_irq(usecs(500), 0, 8);
    m.run();
    ASSERT_EQ(handler.size(), 1u);
    EXPECT_EQ(handler[0].comm, "irq/6-eth");
    EXPECT_EQ(handler[0].time, usecs(100));
    EXPECT_EQ(desc(m, 6).thread_runs, 1u);
    ASSERT_EQ(rx.size(), 1u);
    EXPECT_EQ(rx[0].comm, "irq/6-eth");
    EXPECT_EQ(rx[0].time, usecs(120));
    EXPECT_EQ(rx[0].count, SOFTIRQ_OFFSET + PREEMPT_OFFSET);  // served inside local_bh_enable
    ASSERT_EQ(block.size(), 1u);
    EXPECT_EQ(block[0].comm, "ksoftirqd/0");
}

// x86-64's rule: a handler interrupting kernel mode runs on the irq stack,
// one interrupting user mode on the task's (empty) kernel stack; softirqs
// at irq exit stay where the handler was; local_bh_enable() switches to the
// irq stack; ksoftirqd runs them on its own stack.
TEST(Irq, IrqStackAsX86DecidesIt) {
    sim m;
    std::vector<bool> handler_on, net_on;
    std::vector<std::string> net_comm;
    m.request_irq(1, "dev", [&] {
        handler_on.push_back(on_irq_stack());
        raise_softirq_irqoff(NET_RX_SOFTIRQ);
    });
    open_softirq(m.kern(), NET_RX_SOFTIRQ, [&] {
        net_on.push_back(on_irq_stack());
        net_comm.push_back(current().comm);
    });
    m.spawn({.name = "t"}, [&] {
        burn(usecs(200));  // user mode: irq at 100
        {
            syscall_section sys;
            burn(usecs(200));  // kernel mode: irq at 300
            {
                bh_guard bh;
                raise_softirq(NET_RX_SOFTIRQ);
            }  // served here, on the irq stack
        }
        raise_softirq(NET_RX_SOFTIRQ);  // task context: ksoftirqd
        burn(usecs(100));
    });
    m.raise_irq(usecs(100), 0, 1);
    m.raise_irq(usecs(300), 0, 1);
    m.run();
    EXPECT_EQ(handler_on, (std::vector<bool>{false, true}));
    EXPECT_EQ(net_on, (std::vector<bool>{false, true, true, false}));
    EXPECT_EQ(net_comm, (std::vector<std::string>{"t", "t", "t", "ksoftirqd/0"}));
    EXPECT_FALSE(m.kern().cpu(0).hardirq_stack_inuse);
}

// The irq stack is a real stack: the same decisions as above, checked by the
// stack pointer. A handler that burns CPU time parks the CPU on the irq
// stack and resumes there; an interrupt nested in the softirqs served at
// irq exit stays on it; ksoftirqd and a from-user handler use the task's.
TEST(Irq, HandlersRunWithTheStackPointerOnTheCpusIrqStack) {
    sim m;
    using w = stack_where;
    std::vector<w> handler, nested, net;
    m.request_irq(1, "dev", [&] {
        handler.push_back(where_am_i());
        burn(usecs(20));  // parks the CPU where it is
        handler.push_back(where_am_i());
        raise_softirq_irqoff(NET_RX_SOFTIRQ);
    });
    m.request_irq(2, "nested", [&] { nested.push_back(where_am_i()); });
    open_softirq(m.kern(), NET_RX_SOFTIRQ, [&] {
        net.push_back(where_am_i());
        burn(usecs(10));  // interrupts on: line 2 nests here at 325
    });
    m.spawn({.name = "t"}, [&] {
        burn(usecs(200));  // user mode: line 1 at 100
        {
            syscall_section sys;
            burn(usecs(200));  // kernel mode: line 1 at 300, line 2 at 325
            bh_guard bh;
            raise_softirq(NET_RX_SOFTIRQ);
        }  // served in local_bh_enable: do_softirq_own_stack
        raise_softirq(NET_RX_SOFTIRQ);  // task context: ksoftirqd
        burn(usecs(100));
    });
    m.raise_irq(usecs(100), 0, 1);
    m.raise_irq(usecs(300), 0, 1);
    m.raise_irq(usecs(325), 0, 2);
    m.run();
    EXPECT_EQ(handler, (std::vector<w>{w::task, w::task, w::irq, w::irq}));
    EXPECT_EQ(nested, (std::vector<w>{w::irq}));
    EXPECT_EQ(net, (std::vector<w>{w::task, w::irq, w::irq, w::task}));
    EXPECT_FALSE(m.kern().cpu(0).hardirq_stack_inuse);
    EXPECT_EQ(m.kern().cpu(0).current_task->ctx.outer_sp, nullptr);
}

// A machine stopped while a handler burns on the irq stack: the task's
// frames on both stacks are dropped unwound, and (under LeakSanitizer) the
// heap blocks they hold are not reported as leaks.
TEST(Irq, AMachineStoppedWhileOnTheIrqStackTearsDown) {
    auto m = std::make_unique<sim>();
    m->request_irq(1, "slow", [] {
        std::vector<int> held(100, 1);
        burn(msecs(10));
        EXPECT_EQ(held[0], 1);
    });
    m->spawn({.name = "k"}, [] {
        std::vector<int> also(100, 1);
        syscall_section sys;
        burn(msecs(20));
        EXPECT_EQ(also[0], 1);
    });
    m->raise_irq(usecs(100), 0, 1);
    m->run(msecs(1));
    EXPECT_TRUE(m->kern().cpu(0).hardirq_stack_inuse);
    EXPECT_NE(m->kern().cpu(0).current_task->ctx.outer_sp, nullptr);
    m.reset();
}

TEST(Irq, RequestAndFreeErrors) {
    sim m;
    EXPECT_EQ(request_threaded_irq(m.kern(), 3, {}, [](int) { return irqreturn::handled; }, 0, "bad"), -EINVAL);
    EXPECT_EQ(m.log().count("Threaded irq requested with handler=NULL and !ONESHOT for bad (irq 3)"), 1u);
    EXPECT_EQ(request_irq(m.kern(), 3, "a", [](int) { return irqreturn::handled; }), 0);
    EXPECT_EQ(request_irq(m.kern(), 3, "b", [](int) { return irqreturn::handled; }), -EBUSY);
    EXPECT_EQ(request_irq(m.kern(), NR_IRQS, "c", [](int) { return irqreturn::handled; }), -EINVAL);
    free_irq(m.kern(), 3);
    EXPECT_FALSE(desc(m, 3).requested());
    EXPECT_THROW(m.request_irq(99, "x", [] {}), std::invalid_argument);
}

// A primary that returns IRQ_WAKE_THREAD on a line without a thread: the
// WARN_ONCE, once however often it happens.
TEST(Irq, WakeThreadWithoutThreadWarnsOnce) {
    sim m;
    request_irq(m.kern(), 2, "lazy", [](int) { return irqreturn::wake_thread; });
    m.spawn({.name = "t", .kthread = true}, [] { burn(usecs(300)); });
    m.raise_irq(usecs(100), 0, 2);
    m.raise_irq(usecs(200), 0, 2);
    m.run();
    EXPECT_EQ(m.log().count("IRQ 2 device lazy returned IRQ_WAKE_THREAD but no thread function available."), 1u);
    EXPECT_EQ(desc(m, 2).count_per_cpu[0], 2u);
}

}  // namespace
}  // namespace kp
