// Every preemption point of spec 3.3, live or dead, model by model.
//
// Each situation is one CPU, HZ 1000 (ticks at every whole millisecond),
// zero costs. A SCHED_NORMAL victim runs some kernel or user code; a
// SCHED_FIFO task (blocked from the start) is woken either by a device
// interrupt at 250 us whose handler works 50 us (the wakeup at 300 us; the
// victim's work is pushed back by those 50 us), or by the victim itself at
// 250 us. The FIFO task always wins the CPU, so the instant it first runs
// and the point through which the victim lost the CPU say which point was
// the first live one after the wakeup (times in us):
//
//   situation                      NONE            VOLUNTARY       FULL
//   irq from user mode             300 ret-user    300 ret-user    300 ret-user
//   syscall return                 500 ret-user    500 ret-user    500 ret-user
//   irq return to kernel, count 0  2050 ret-user   2050 ret-user   300 irq-exit
//   outermost preempt_enable       2050 ret-user   2050 ret-user   800 enable
//   inner preempt_enable (550)     2050 ret-user   2050 ret-user   800 enable (outer)
//   spin_unlock                    2050 ret-user   2050 ret-user   800 enable
//   might_sleep                    2000 ret-user   250 might       1000 irq-exit (tick)
//   cond_resched                   250 cond        250 cond        1000 irq-exit (tick)
//   schedule()                     250 schedule    250 schedule    250 schedule
//   blocking (victim FIFO 60)      250 schedule    250 schedule    250 schedule
//
// The table in spec_table() below is the same, row for row.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "kpreempt/kpreempt.h"
#include "test_util.h"

namespace kp {
namespace {

constexpr int dev_irq = 1;

// What a situation gets to work with.
struct stage {
    sim& m;
    task_struct& fifo;
};

// The device interrupt whose handler (50 us of work) wakes the FIFO task.
void irq_wakes_fifo_at_300us(stage& s) {
    task_struct& fifo = s.fifo;
    s.m.request_irq(dev_irq, "dev", [&fifo] {
        burn(usecs(50));
        wake_up_process(fifo);
    });
    s.m.raise_irq(usecs(250), 0, dev_irq);
}

// The victim wakes the FIFO task itself with interrupts off: nothing inside
// the wakeup can preempt (preempt_schedule needs irqs on), and re-enabling
// interrupts is not a preemption point. So NEED_RESCHED is set and folded,
// count 0, irqs on, and the very next statement is the point under test.
// Under FULL this is how a task can stand at a might_sleep() or
// cond_resched() with a reschedule pending: a wakeup from an interrupt would
// already have preempted at the irq return, and one inside a preempt-disabled
// section at its preempt_enable.
void self_wake_with_irqs_off(task_struct& fifo) {
    local_irq_disable();
    wake_up_process(fifo);
    local_irq_enable();
}

// What the victim's body can reach: the FIFO task, and a completion the
// FIFO task completes when it runs, if the victim armed it.
struct victim_ctx {
    task_struct* fifo = nullptr;
    completion done;
    bool done_armed = false;
};

struct situation {
    const char* name;
    bool device_irq;                          // the irq at 250 us wakes the FIFO task
    std::function<void(victim_ctx&)> victim;  // the victim's body
    int victim_fifo_prio = 0;                 // 0: the victim is SCHED_NORMAL
};

struct expectation {
    nsec_t first_run;
    preempt_point point;
};

struct row {
    situation sit;
    expectation none, voluntary, full;
};

constexpr auto ret_user = preempt_point::return_to_user;
constexpr auto irq_exit = preempt_point::irq_exit;
constexpr auto enable = preempt_point::preempt_enable;
constexpr auto might = preempt_point::might_resched;
constexpr auto cond = preempt_point::cond_resched;
constexpr auto sched = preempt_point::none;  // schedule() or blocking

std::vector<row> spec_table() {
    return {
        // Interrupted in user mode: the irq returns to user through
        // exit_to_user_mode_loop, live everywhere.
        {{"irq from user mode", true, [](victim_ctx&) { burn(msecs(2)); }},
         {usecs(300), ret_user}, {usecs(300), ret_user}, {usecs(300), ret_user}},
        // Woken inside a syscall; the syscall's own return to user at 500 us
        // is the first live point in every model.
        {{"syscall return", false,
          [](victim_ctx& v) {
              {
                  syscall_section sys;
                  burn(usecs(250));
                  self_wake_with_irqs_off(*v.fifo);
                  burn(usecs(250));
              }
              burn(msecs(1));
          }},
         {usecs(500), ret_user}, {usecs(500), ret_user}, {usecs(500), ret_user}},
        // Interrupted in the kernel with preempt_count 0: only FULL preempts
        // at the irq return; the others wait for the syscall's return.
        {{"irq return to kernel, count 0", true,
          [](victim_ctx&) {
              syscall_section sys;
              burn(msecs(2));
          }},
         {usecs(2050), ret_user}, {usecs(2050), ret_user}, {usecs(300), irq_exit}},
        // Interrupted with preemption disabled: the irq return cannot
        // preempt (count 1) in any model; FULL's outermost enable does.
        {{"outermost preempt_enable", true,
          [](victim_ctx&) {
              syscall_section sys;
              preempt_disable();
              burn(usecs(750));
              preempt_enable();
              burn(usecs(1250));
          }},
         {usecs(2050), ret_user}, {usecs(2050), ret_user}, {usecs(800), enable}},
        // Only the outermost enable is a point: the inner one at 500 us is dead.
        {{"inner preempt_enable", true,
          [](victim_ctx&) {
              syscall_section sys;
              preempt_disable();
              preempt_disable();
              burn(usecs(500));
              preempt_enable();
              burn(usecs(250));
              preempt_enable();
              burn(usecs(1250));
          }},
         {usecs(2050), ret_user}, {usecs(2050), ret_user}, {usecs(800), enable}},
        {{"spin_unlock", true,
          [](victim_ctx&) {
              syscall_section sys;
              spinlock_t lock;
              spin_lock(lock);
              burn(usecs(750));
              spin_unlock(lock);
              burn(usecs(1250));
          }},
         {usecs(2050), ret_user}, {usecs(2050), ret_user}, {usecs(800), enable}},
        // might_sleep: live only in VOLUNTARY. FULL skips it and preempts at
        // the next irq return to kernel, the tick at 1 ms.
        {{"might_sleep", false,
          [](victim_ctx& v) {
              syscall_section sys;
              burn(usecs(250));
              self_wake_with_irqs_off(*v.fifo);
              might_sleep();
              burn(usecs(1750));
          }},
         {msecs(2), ret_user}, {usecs(250), might}, {msecs(1), irq_exit}},
        // cond_resched: live in NONE and VOLUNTARY, RET0 in FULL (the tick's
        // irq return preempts instead).
        {{"cond_resched", false,
          [](victim_ctx& v) {
              syscall_section sys;
              burn(usecs(250));
              self_wake_with_irqs_off(*v.fifo);
              cond_resched();
              burn(usecs(1750));
          }},
         {usecs(250), cond}, {usecs(250), cond}, {msecs(1), irq_exit}},
        {{"schedule()", false,
          [](victim_ctx& v) {
              syscall_section sys;
              burn(usecs(250));
              self_wake_with_irqs_off(*v.fifo);
              schedule();
              burn(usecs(1750));
          }},
         {usecs(250), sched}, {usecs(250), sched}, {usecs(250), sched}},
        // Blocking on a completion that the FIFO task completes. Here no
        // reschedule may be pending when the victim blocks: under FULL the
        // wait's own spin_unlock_irq would take it first (as in Linux), and
        // the switch would be a preemption at preempt_enable. So the victim
        // is SCHED_FIFO 60 and wakes the FIFO 50 task with irqs on, which
        // asks for no reschedule; the victim then leaves only by blocking.
        {{"blocking", false,
          [](victim_ctx& v) {
              syscall_section sys;
              burn(usecs(250));
              v.done_armed = true;
              wake_up_process(*v.fifo);
              EXPECT_FALSE(need_resched());
              wait_for_completion(v.done);
              burn(usecs(1750));
          },
          /*victim_fifo_prio*/ 60},
         {usecs(250), sched}, {usecs(250), sched}, {usecs(250), sched}},
    };
}

expectation run_situation(const situation& sit, preempt_mode model) {
    sim m({.nr_cpus = 1, .hz = 1000, .model = model});
    switch_recorder rec;
    m.set_observer(&rec);
    victim_ctx v;
    init_completion(v.done);
    task_struct& fifo =
        m.spawn({.name = "fifo", .policy = sched_policy::fifo, .priority = 50, .start_stopped = true}, [&v] {
            if (v.done_armed) complete(v.done);
        });
    v.fifo = &fifo;
    stage s{m, fifo};
    if (sit.device_irq) irq_wakes_fifo_at_300us(s);
    const auto& body = sit.victim;
    const sched_policy policy = sit.victim_fifo_prio ? sched_policy::fifo : sched_policy::normal;
    m.spawn({.name = "victim", .policy = policy, .priority = sit.victim_fifo_prio}, [&body, &v] { body(v); });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    const switch_record* sw = rec.first_switch_to(fifo.pid);
    EXPECT_NE(sw, nullptr);
    if (!sw) return {-1, preempt_point::exit};
    EXPECT_EQ(sw->prev_comm, "victim");
    // schedule(), blocking and the return to user are __schedule(SM_NONE)
    // (exit_to_user_mode_loop calls schedule()); every other point is
    // SM_PREEMPT.
    EXPECT_EQ(sw->preempt, sw->point != sched && sw->point != ret_user);
    return {fifo.first_run, sw->point};
}

void check(const row& r, preempt_mode model, const expectation& want) {
    SCOPED_TRACE(std::string(r.sit.name) + " under " + std::string(preempt_mode_name(model)));
    const expectation got = run_situation(r.sit, model);
    EXPECT_EQ(got.first_run, want.first_run);
    EXPECT_EQ(preempt_point_name(got.point), preempt_point_name(want.point));
}

TEST(PreemptionPoints, SpecTableNone) {
    for (const row& r : spec_table()) check(r, preempt_mode::none, r.none);
}

TEST(PreemptionPoints, SpecTableVoluntary) {
    for (const row& r : spec_table()) check(r, preempt_mode::voluntary, r.voluntary);
}

TEST(PreemptionPoints, SpecTableFull) {
    for (const row& r : spec_table()) check(r, preempt_mode::full, r.full);
}

// cond_resched() reports whether it rescheduled: 1 where live, 0 where it is
// RET0 (FULL), with the very same reschedule pending and preemptible() true.
int cond_resched_result(preempt_mode model) {
    sim m({.nr_cpus = 1, .model = model});
    task_struct& fifo =
        m.spawn({.name = "fifo", .policy = sched_policy::fifo, .priority = 50, .start_stopped = true}, [] {});
    int ret = -1;
    bool pending_and_preemptible = false;
    m.spawn({.name = "victim"}, [&] {
        syscall_section sys;
        self_wake_with_irqs_off(fifo);
        pending_and_preemptible = need_resched() && preemptible();
        ret = cond_resched();
    });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_TRUE(pending_and_preemptible);
    return ret;
}

TEST(PreemptionPoints, CondReschedReturnValue) {
    EXPECT_EQ(cond_resched_result(preempt_mode::none), 1);
    EXPECT_EQ(cond_resched_result(preempt_mode::voluntary), 1);
    EXPECT_EQ(cond_resched_result(preempt_mode::full), 0);
}

// The dynamic rows themselves (spec 3.2).
TEST(PreemptionPoints, DynamicTableRows) {
    const preempt_dynamic n = preempt_dynamic_for(preempt_mode::none);
    const preempt_dynamic v = preempt_dynamic_for(preempt_mode::voluntary);
    const preempt_dynamic f = preempt_dynamic_for(preempt_mode::full);
    EXPECT_TRUE(n.cond_resched && !n.might_resched && !n.preempt_schedule && !n.irqentry_exit_cond_resched);
    EXPECT_TRUE(v.cond_resched && v.might_resched && !v.preempt_schedule && !v.irqentry_exit_cond_resched);
    EXPECT_TRUE(!f.cond_resched && !f.might_resched && f.preempt_schedule && f.irqentry_exit_cond_resched);
}

// ---------------------------------------------------------------------------
// SM_PREEMPT never dequeues: a task preempted after set_current_state but
// before its schedule() stays on the runqueue, and the switch counts as
// involuntary; a real block dequeues and counts as voluntary.

struct switch_counts {
    int victim_on_rq = -1;  // seen by the FIFO task while it runs
    std::uint64_t nvcsw = 0, nivcsw = 0;
    unsigned prev_state = 0;
    bool preempt = false;
    preempt_point point = preempt_point::exit;
    nsec_t fifo_first_run = -1, victim_back = -1;
};

TEST(PreemptionPoints, PreemptedSleeperStaysQueuedAndCountsInvoluntary) {
    sim m({.nr_cpus = 1, .model = preempt_mode::full});
    switch_recorder rec;
    m.set_observer(&rec);
    switch_counts c;
    task_struct* victim = nullptr;
    task_struct& fifo =
        m.spawn({.name = "fifo", .policy = sched_policy::fifo, .priority = 50, .start_stopped = true}, [&] {
            c.victim_on_rq = victim->on_rq;
            c.nvcsw = victim->nvcsw;
            c.nivcsw = victim->nivcsw;
            burn(usecs(100));
        });
    stage s{m, fifo};
    irq_wakes_fifo_at_300us(s);
    victim = &m.spawn({.name = "victim"}, [&] {
        syscall_section sys;
        set_current_state(TASK_UNINTERRUPTIBLE);
        burn(usecs(500));  // preempted at 300 us, in the middle of this
        c.victim_back = m.now();
        __set_current_state(TASK_RUNNING);
    });
    ASSERT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    const switch_record* sw = rec.first_switch_to(fifo.pid);
    ASSERT_NE(sw, nullptr);
    EXPECT_EQ(sw->time, usecs(300));
    EXPECT_EQ(sw->prev_state, TASK_UNINTERRUPTIBLE);
    EXPECT_TRUE(sw->preempt);
    EXPECT_EQ(sw->point, preempt_point::irq_exit);
    EXPECT_EQ(c.victim_on_rq, 1);  // still queued, although "sleeping"
    EXPECT_EQ(c.nvcsw, 0u);
    EXPECT_EQ(c.nivcsw, 1u);
    // Nobody woke the victim: it ran again because it never left the queue.
    // 250 us of work, the handler's 50 us, the FIFO task's 100 us, then the
    // victim's remaining 250 us.
    EXPECT_EQ(c.victim_back, usecs(650));
}

TEST(PreemptionPoints, BlockingDequeuesAndCountsVoluntary) {
    sim m({.nr_cpus = 1, .model = preempt_mode::full});
    switch_recorder rec;
    m.set_observer(&rec);
    switch_counts c;
    task_struct* victim = nullptr;
    task_struct& fifo =
        m.spawn({.name = "fifo", .policy = sched_policy::fifo, .priority = 50, .start_stopped = true}, [&] {
            c.victim_on_rq = victim->on_rq;
            c.nvcsw = victim->nvcsw;
            c.nivcsw = victim->nivcsw;
            burn(usecs(100));
            wake_up_process(*victim);
        });
    victim = &m.spawn({.name = "victim"}, [&] {
        syscall_section sys;
        burn(usecs(250));
        self_wake_with_irqs_off(fifo);
        set_current_state(TASK_UNINTERRUPTIBLE);
        schedule();
        c.victim_back = m.now();
    });
    ASSERT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    const switch_record* sw = rec.first_switch_to(fifo.pid);
    ASSERT_NE(sw, nullptr);
    EXPECT_EQ(sw->time, usecs(250));
    EXPECT_EQ(sw->prev_state, TASK_UNINTERRUPTIBLE);
    EXPECT_FALSE(sw->preempt);
    EXPECT_EQ(sw->point, preempt_point::none);
    EXPECT_EQ(c.victim_on_rq, 0);  // dequeued: only a wakeup brings it back
    EXPECT_EQ(c.nvcsw, 1u);
    EXPECT_EQ(c.nivcsw, 0u);
    EXPECT_EQ(c.victim_back, usecs(350));
}

// ---------------------------------------------------------------------------
// Switching the model at run time (PREEMPT_DYNAMIC's debugfs write).

TEST(PreemptionPoints, DynamicUpdateLogsAndShows) {
    sim m({.nr_cpus = 1, .model = preempt_mode::full});
    EXPECT_EQ(preempt_dynamic_show(m.kern()), "none voluntary (full) ");
    sched_dynamic_update(m.kern(), preempt_mode::voluntary);
    EXPECT_EQ(m.log().count("Dynamic Preempt: voluntary"), 1u);
    EXPECT_EQ(preempt_dynamic_show(m.kern()), "none (voluntary) full ");
    sched_dynamic_update(m.kern(), preempt_mode::none);
    EXPECT_EQ(preempt_dynamic_show(m.kern()), "(none) voluntary full ");
    EXPECT_EQ(m.log().count("Dynamic Preempt: none"), 1u);
}

// A machine booted FULL is switched to VOLUNTARY by its task at 100 us; the
// same might_sleep situation then preempts at the might_sleep (250 us)
// instead of at the tick's irq return (1 ms).
TEST(PreemptionPoints, DynamicUpdateAtRunTimeChangesThePoints) {
    sim m({.nr_cpus = 1, .model = preempt_mode::full});
    switch_recorder rec;
    m.set_observer(&rec);
    task_struct& fifo =
        m.spawn({.name = "fifo", .policy = sched_policy::fifo, .priority = 50, .start_stopped = true}, [] {});
    std::string shown;
    m.spawn({.name = "victim"}, [&] {
        syscall_section sys;
        burn(usecs(100));
        sched_dynamic_update(this_kernel(), preempt_mode::voluntary);
        shown = preempt_dynamic_show(this_kernel());
        burn(usecs(150));
        self_wake_with_irqs_off(fifo);
        might_sleep();
        burn(usecs(1750));
    });
    ASSERT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(shown, "none (voluntary) full ");
    ASSERT_EQ(m.log().count("Dynamic Preempt: voluntary"), 1u);
    for (const log_entry& e : m.log().entries()) {
        if (e.text == "Dynamic Preempt: voluntary") {
            EXPECT_EQ(e.time, usecs(100));
        }
    }
    EXPECT_EQ(fifo.first_run, usecs(250));
    const switch_record* sw = rec.first_switch_to(fifo.pid);
    ASSERT_NE(sw, nullptr);
    EXPECT_EQ(sw->point, preempt_point::might_resched);
}

}  // namespace
}  // namespace kp
