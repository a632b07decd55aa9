// Determinism: the same program and seed give the identical sequence of
// scheduling events (issue 2, "Done when"). The program is a busy 4-CPU
// machine: a dozen tasks of mixed policies and nice levels that burn in user
// and kernel mode, contend on a mutex and a spinlock, sleep, call
// cond_resched/might_sleep, and consume tokens that device interrupts,
// raised at pseudo-random instants on pseudo-random CPUs, produce. Every
// random choice comes from one std::mt19937_64 with a fixed seed, drawn
// before the machine runs, so the program is a pure function of the seed.
#include <gtest/gtest.h>

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "kpreempt/kpreempt.h"

namespace kp {
namespace {

// Every scheduling event, one text line each, in the order they happen.
class event_log : public sched_observer {
public:
    void on_switch(const sched_switch_event& e) override {
        line("S %lld cpu%d %d:%.*s(%u) -> %d:%.*s %s%s", static_cast<long long>(e.time), e.cpu, e.prev_pid,
             static_cast<int>(e.prev_comm.size()), e.prev_comm.data(), e.prev_state, e.next_pid,
             static_cast<int>(e.next_comm.size()), e.next_comm.data(),
             std::string(preempt_point_name(e.point)).c_str(), e.preempt ? " P" : "");
        ++switches;
        cpus.insert(e.cpu);
        points.insert(e.point);
    }
    void on_wakeup(const sched_wakeup_event& e) override {
        line("W %lld cpu%d pid%d -> cpu%d", static_cast<long long>(e.time), e.cpu, e.pid, e.target_cpu);
        ++wakeups;
    }
    void on_migrate(nsec_t time, int pid, int from, int to) override {
        line("M %lld pid%d cpu%d -> cpu%d", static_cast<long long>(time), pid, from, to);
    }
    void on_irq_handler(nsec_t time, int cpu, int irq, bool entry) override {
        line("I %lld cpu%d irq%d %s", static_cast<long long>(time), cpu, irq, entry ? "entry" : "exit");
        ++irq_events;
    }

    std::string text;
    std::size_t switches = 0, wakeups = 0, irq_events = 0;
    std::set<int> cpus;
    std::set<preempt_point> points;

private:
    void line(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
        char buf[256];
        va_list ap;
        va_start(ap, fmt);
        std::vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        text += buf;
        text += '\n';
    }
};

// One step of a worker's script.
enum class op : std::uint8_t { user_burn, mutex_section, spin_section, sleep, cond_resched, might_sleep };

struct step {
    op what;
    nsec_t ns;  // burn length, or sleep length in ms for op::sleep
};

struct worker_spec {
    task_spec spec;
    std::vector<step> script;
};

constexpr int nr_cpus = 4;
constexpr int nr_irqs = 40;
constexpr int token_irq = 7;

// The whole program, drawn from the seed before anything runs.
struct program {
    std::vector<worker_spec> workers;
    std::vector<std::pair<nsec_t, int>> irqs;  // (time, cpu)
    std::vector<nsec_t> handler_work;          // per delivery, in order
};

// Uniform in [lo, hi] from raw draws (the standard distributions'
// algorithms are left to the library; these are ours, so fixed).
std::int64_t draw(std::mt19937_64& rng, std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(hi - lo + 1));
}

program make_program(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    program p;
    const task_spec specs[] = {
        {.name = "n-5", .nice = -5},
        {.name = "n0a"},
        {.name = "n0b", .cpu = 1},
        {.name = "n5", .nice = 5, .cpu = 2},
        {.name = "n10", .nice = 10, .cpu = 3},
        {.name = "n19", .nice = 19},
        {.name = "batch", .policy = sched_policy::batch, .cpu = 1},
        {.name = "fifo10", .policy = sched_policy::fifo, .priority = 10, .cpu = 2},
        {.name = "fifo20", .policy = sched_policy::fifo, .priority = 20, .cpus = {0, 1}},
        {.name = "rr15a", .policy = sched_policy::rr, .priority = 15, .cpu = 3},
        {.name = "rr15b", .policy = sched_policy::rr, .priority = 15, .cpu = 3},
    };
    for (const task_spec& s : specs) {
        worker_spec w{s, {}};
        const bool rt = s.policy == sched_policy::fifo || s.policy == sched_policy::rr;
        const int steps = static_cast<int>(draw(rng, 15, 30));
        for (int i = 0; i < steps; ++i) {
            const auto what = static_cast<op>(draw(rng, 0, 5));
            // RT tasks burn less, so that they do not starve the rest for long.
            const nsec_t ns = what == op::sleep ? draw(rng, 1, 3) : usecs(draw(rng, 5, rt ? 150 : 600));
            w.script.push_back({what, ns});
        }
        p.workers.push_back(std::move(w));
    }
    for (int i = 0; i < nr_irqs; ++i)
        p.irqs.emplace_back(usecs(draw(rng, 0, 60000)), static_cast<int>(draw(rng, 0, nr_cpus - 1)));
    for (int i = 0; i < nr_irqs; ++i) p.handler_work.push_back(usecs(draw(rng, 1, 40)));
    return p;
}

// The state the tasks and the handler share.
struct world {
    mutex lock;
    spinlock_t spin;
    wait_queue_head tokens_wq;
    int produced = 0;
    int consumed = 0;
    std::size_t handler_calls = 0;
};

void run_step(world& w, const step& s) {
    switch (s.what) {
    case op::user_burn: burn(s.ns); break;
    case op::mutex_section: {
        syscall_section sys;
        mutex_guard g{w.lock};
        burn(s.ns);
        break;
    }
    case op::spin_section: {
        syscall_section sys;
        spin_guard g{w.spin};
        burn(s.ns / 4);
        break;
    }
    case op::sleep: {
        syscall_section sys;
        msleep(static_cast<unsigned>(s.ns));
        break;
    }
    case op::cond_resched: {
        syscall_section sys;
        burn(s.ns);
        cond_resched();
        break;
    }
    case op::might_sleep: {
        syscall_section sys;
        burn(s.ns);
        might_sleep();
        break;
    }
    }
}

// Takes tokens until all the interrupts' tokens are gone.
void consume(world& w) {
    syscall_section sys;
    while (w.consumed < nr_irqs) {
        wait_event(w.tokens_wq, [&w] { return w.produced > w.consumed || w.consumed >= nr_irqs; });
        if (w.produced > w.consumed) {
            ++w.consumed;
            burn(usecs(30));
        }
    }
    wake_up_all(w.tokens_wq);  // the other consumer may be waiting for the end
}

struct outcome {
    std::string events;
    std::size_t switches, wakeups, irq_events, cpus_used, points_used;
    nsec_t end;
    int consumed;
};

outcome run_program(std::uint64_t seed, preempt_mode model) {
    const program p = make_program(seed);
    sim m({.nr_cpus = nr_cpus, .hz = 1000, .model = model});
    event_log log;
    m.set_observer(&log);
    world w;
    m.request_irq(token_irq, "tokens", [&w, &p] {
        burn(p.handler_work[w.handler_calls++ % p.handler_work.size()]);
        ++w.produced;
        wake_up(w.tokens_wq);
    });
    for (const auto& [at, cpu] : p.irqs) m.raise_irq(at, cpu, token_irq);
    for (const worker_spec& ws : p.workers) {
        m.spawn(ws.spec, [&w, &ws] {
            for (const step& s : ws.script) run_step(w, s);
        });
    }
    m.spawn({.name = "cons-n", .cpu = 2}, [&w] { consume(w); });
    m.spawn({.name = "cons-rt", .policy = sched_policy::fifo, .priority = 30, .cpu = 0}, [&w] { consume(w); });
    EXPECT_EQ(m.run(secs(10)), sim_machine::stop_reason::all_exited);
    return {log.text, log.switches, log.wakeups, log.irq_events, log.cpus.size(), log.points.size(), m.now(),
            w.consumed};
}

class Determinism : public ::testing::TestWithParam<preempt_mode> {};

TEST_P(Determinism, SameSeedSameEvents) {
    const outcome a = run_program(0x5eed, GetParam());
    const outcome b = run_program(0x5eed, GetParam());
    // The workload is not trivial: it really exercises the scheduler.
    EXPECT_GT(a.switches, 200u);
    EXPECT_GT(a.wakeups, 100u);
    EXPECT_EQ(a.irq_events, 2u * nr_irqs);  // every handler's entry and exit
    EXPECT_EQ(a.cpus_used, static_cast<std::size_t>(nr_cpus));
    EXPECT_GE(a.points_used, 4u);
    EXPECT_EQ(a.consumed, nr_irqs);
    // Byte for byte the same sequence.
    EXPECT_EQ(a.switches, b.switches);
    EXPECT_EQ(a.end, b.end);
    EXPECT_TRUE(a.events == b.events) << "first run:\n" << a.events.substr(0, 2000) << "\nsecond run:\n"
                                      << b.events.substr(0, 2000);
}

TEST_P(Determinism, DifferentSeedDifferentEvents) {
    const outcome a = run_program(0x5eed, GetParam());
    const outcome b = run_program(0x5eed + 1, GetParam());
    EXPECT_NE(a.events, b.events);
}

// Another machine running in between leaves no trace in the next one (no
// state shared between machines: pids, clocks, random state, logs).
TEST_P(Determinism, UnaffectedByAnotherMachineInBetween) {
    const outcome a = run_program(42, GetParam());
    (void)run_program(7, GetParam());
    const outcome c = run_program(42, GetParam());
    EXPECT_TRUE(a.events == c.events);
}

INSTANTIATE_TEST_SUITE_P(Models, Determinism,
                         ::testing::Values(preempt_mode::none, preempt_mode::voluntary, preempt_mode::full),
                         [](const ::testing::TestParamInfo<preempt_mode>& i) {
                             return std::string(preempt_mode_name(i.param));
                         });

// The same seed under different models is a different schedule: the event
// sequence does depend on what the kernel decides, not only on the seed.
TEST(DeterminismModels, ModelsDiffer) {
    const outcome n = run_program(0x5eed, preempt_mode::none);
    const outcome f = run_program(0x5eed, preempt_mode::full);
    EXPECT_NE(n.events, f.events);
}

}  // namespace
}  // namespace kp
