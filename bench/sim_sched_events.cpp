// Benchmark (not a test): how many scheduling events the simulated machine
// processes per second of host time, on a busy mixed workload.
//
//   kpreempt-bench-sched [--cpus N] [--tasks N] [--seconds S] [--model none|voluntary|full]
//                        [--hz HZ] [--repeat R] [--trace all|off]
//
// --trace all records every trace event into per-CPU rings of 64 Ki entries
// (overwriting): the cost of tracing on. Tracing compiled in but off is the
// default; build with -DKP_TRACEPOINTS=OFF for the same run with the
// tracepoints compiled out (docs/tracing.md has both figures).
//
// Defaults: 64 CPUs, 1000 tasks, 1 s of virtual time, model full, HZ 1000.
// The workload (deterministic: every random choice comes from a per-task
// seeded generator):
//   - RT tasks (1 in 50, SCHED_FIFO 10..59): sleep 0.2-1 ms (usleep_range),
//     then a short syscall burst.
//   - ping-pong pairs (2 in 10): two tasks hand a token back and forth
//     through completions, with user and syscall work in between.
//   - producers / consumers (2 in 10): a wait queue with a token counter;
//     consumers sleep in wait_event, producers wake_up after some work.
//   - device-fed tasks: a device interrupt every 50 us (rotating CPUs) wakes
//     one of them through a completion.
//   - batch-like workers (the rest): user bursts of 0.2-2 ms, syscalls of
//     chunks with cond_resched / might_sleep between, msleep(1) now and then.
//
// What counts as a "scheduling event" is printed with the results (and
// documented in docs/core.md): context switches + wakeups + interrupts
// delivered (ticks, IPIs, device interrupts). The raw event-loop count is
// reported beside it.
#include <time.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kpreempt/kpreempt.h"

namespace {

struct options {
    int cpus = 64;
    int tasks = 1000;
    double seconds = 1.0;
    int hz = 1000;
    int repeat = 1;
    kp::preempt_mode model = kp::preempt_mode::full;
    bool trace = false;
};

[[noreturn]] void usage(const char* argv0) {
    std::fprintf(stderr,
                 "usage: %s [--cpus N] [--tasks N] [--seconds S] [--model none|voluntary|full] [--hz HZ] "
                 "[--repeat R] [--trace all|off]\n",
                 argv0);
    std::exit(2);
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc) usage(argv[0]);
        const char* v = argv[++i];
        if (a == "--cpus") o.cpus = std::atoi(v);
        else if (a == "--tasks") o.tasks = std::atoi(v);
        else if (a == "--seconds") o.seconds = std::atof(v);
        else if (a == "--hz") o.hz = std::atoi(v);
        else if (a == "--repeat") o.repeat = std::atoi(v);
        else if (a == "--trace" && (std::strcmp(v, "all") == 0 || std::strcmp(v, "off") == 0))
            o.trace = std::strcmp(v, "all") == 0;
        else if (a == "--model") {
            const auto m = kp::parse_preempt_mode(v);
            if (!m) usage(argv[0]);
            o.model = *m;
        } else usage(argv[0]);
    }
    if (o.cpus < 1 || o.cpus > kp::NR_CPUS || o.tasks < 2 || o.seconds <= 0 || o.repeat < 1) usage(argv[0]);
    return o;
}

// xorshift64*: small, fast, and the same on every host.
struct rng {
    std::uint64_t s;
    explicit rng(std::uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
    std::uint64_t next() {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        return s * 2685821657736338717ull;
    }
    // Uniform in [lo, hi].
    std::int64_t range(std::int64_t lo, std::int64_t hi) {
        return lo + static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(hi - lo + 1));
    }
};

// Counts what the machine reports to the scheduler observer, and folds
// every event into a hash: the same hash before and after an optimisation
// of the core means the same sequence of scheduling events.
struct counter final : kp::sched_observer {
    std::uint64_t switches = 0;
    std::uint64_t wakeups = 0;
    std::uint64_t migrations = 0;
    std::uint64_t hash = 0xcbf29ce484222325ull;
    // FNV-1a-like, a 64-bit word at a time (cheap: the bench measures the core).
    void mix(std::int64_t v) {
        hash ^= static_cast<std::uint64_t>(v);
        hash *= 0x100000001b3ull;
        hash ^= hash >> 29;
    }
    void on_switch(const kp::sched_switch_event& e) override {
        ++switches;
        mix(e.time);
        mix(e.cpu);
        mix(e.prev_pid);
        mix(e.next_pid);
        mix(static_cast<int>(e.point));
    }
    void on_wakeup(const kp::sched_wakeup_event& e) override {
        ++wakeups;
        mix(e.time);
        mix(e.pid);
        mix(e.target_cpu);
    }
    void on_migrate(kp::nsec_t t, int pid, int from, int to) override {
        ++migrations;
        mix(t);
        mix(pid);
        mix(from);
        mix(to);
    }
};

// Shared objects the tasks meet at.
struct world {
    std::vector<std::unique_ptr<kp::completion>> pair_tokens;  // two per pair
    kp::wait_queue_head wq;
    int tokens = 0;
    std::vector<std::unique_ptr<kp::completion>> irq_feed;  // one per device-fed task
    std::size_t next_feed = 0;
    std::uint64_t device_irqs = 0;
};

constexpr kp::nsec_t device_period = kp::usecs(50);

void rt_body(std::uint64_t seed) {
    rng r(seed);
    for (;;) {
        kp::usleep_range(static_cast<unsigned long>(r.range(200, 1000)), 1000);
        kp::syscall_section sys;
        kp::burn(kp::usecs(r.range(5, 40)));
    }
}

void ping_body(world& w, std::size_t pair, bool first, std::uint64_t seed) {
    rng r(seed);
    kp::completion& mine = *w.pair_tokens[2 * pair + (first ? 0 : 1)];
    kp::completion& theirs = *w.pair_tokens[2 * pair + (first ? 1 : 0)];
    if (first) kp::complete(theirs);
    for (;;) {
        kp::wait_for_completion(mine);
        kp::burn(kp::usecs(r.range(10, 100)));
        {
            kp::syscall_section sys;
            kp::burn(kp::usecs(r.range(5, 30)));
            kp::complete(theirs);
        }
    }
}

void producer_body(world& w, std::uint64_t seed) {
    rng r(seed);
    for (;;) {
        kp::burn(kp::usecs(r.range(50, 300)));
        kp::syscall_section sys;
        {
            kp::spin_guard g{w.wq.lock};
            w.tokens += 2;
        }
        kp::wake_up(w.wq);
        kp::wake_up(w.wq);
        if (r.range(0, 3) == 0) kp::msleep(1);
    }
}

void consumer_body(world& w, std::uint64_t seed) {
    rng r(seed);
    for (;;) {
        {
            kp::syscall_section sys;
            kp::wait_event(w.wq, [&w] { return w.tokens > 0; }, kp::TASK_INTERRUPTIBLE, true);
            kp::spin_guard g{w.wq.lock};
            if (w.tokens > 0) --w.tokens;
        }
        kp::burn(kp::usecs(r.range(20, 200)));
    }
}

void irq_fed_body(kp::completion& feed, std::uint64_t seed) {
    rng r(seed);
    for (;;) {
        kp::syscall_section sys;
        kp::wait_for_completion(feed);
        kp::burn(kp::usecs(r.range(5, 30)));
    }
}

void worker_body(std::uint64_t seed) {
    rng r(seed);
    for (;;) {
        kp::burn(kp::usecs(r.range(200, 2000)));
        {
            kp::syscall_section sys;
            const int chunks = static_cast<int>(r.range(1, 5));
            for (int i = 0; i < chunks; ++i) {
                kp::burn(kp::usecs(r.range(20, 150)));
                if (i % 2) kp::cond_resched();
                else kp::might_sleep();
            }
        }
        const auto roll = r.range(0, 9);
        if (roll == 0) kp::msleep(1);
        else if (roll < 4) kp::usleep_range(static_cast<unsigned long>(r.range(50, 500)), 500);
    }
}

enum class role { rt, ping, pong, producer, consumer, irq_fed, worker };

role role_of(int i) {
    switch (i % 50) {
    case 0: return role::rt;
    default: break;
    }
    switch (i % 10) {
    case 1: return role::ping;
    case 2: return role::pong;
    case 3: return role::producer;
    case 4:
    case 5: return role::consumer;
    case 6: return role::irq_fed;
    default: return role::worker;
    }
}

struct result {
    double wall_s = 0;
    double cpu_s = 0;  // this process's CPU time (less noisy on a shared host)
    std::uint64_t events = 0;
    std::uint64_t switches = 0;
    std::uint64_t nvcsw = 0;
    std::uint64_t nivcsw = 0;
    std::uint64_t wakeups = 0;
    std::uint64_t migrations = 0;
    std::uint64_t trace_hash = 0;
    kp::sim_machine::irq_counts irqs;
    std::uint64_t device_irqs = 0;
    kp::nsec_t virt = 0;
};

// Device interrupt: feed one waiting task, then re-arm on the next CPU.
void device_handler(kp::sim& m, world& w) {
    kp::burn(kp::usecs(2));
    ++w.device_irqs;
    if (!w.irq_feed.empty()) {
        kp::complete(*w.irq_feed[w.next_feed]);
        w.next_feed = (w.next_feed + 1) % w.irq_feed.size();
    }
    const int cpu = static_cast<int>(w.device_irqs % static_cast<std::uint64_t>(m.kern().nr_cpus()));
    m.raise_irq(m.now() + device_period, cpu, 1);
}

void spawn_all(kp::sim& m, world& w, const options& o) {
    const int pairs = o.tasks;  // upper bound; only used indices are created
    w.pair_tokens.resize(static_cast<std::size_t>(2 * (pairs / 10 + 1)));
    for (auto& c : w.pair_tokens) c = std::make_unique<kp::completion>();
    for (int i = 0; i < o.tasks; ++i) {
        const auto seed = static_cast<std::uint64_t>(i) + 1;
        kp::task_spec spec;
        spec.cpu = i % o.cpus;
        spec.nice = static_cast<int>(i % 7) - 3;
        const std::size_t pair = static_cast<std::size_t>(i / 10);
        switch (role_of(i)) {
        case role::rt:
            spec.name = "rt" + std::to_string(i);
            spec.policy = kp::sched_policy::fifo;
            spec.priority = 10 + (i / 50) % 50;
            m.spawn(spec, [seed] { rt_body(seed); });
            break;
        case role::ping:
        case role::pong: {
            const bool first = role_of(i) == role::ping;
            spec.name = (first ? "ping" : "pong") + std::to_string(i);
            m.spawn(spec, [&w, pair, first, seed] { ping_body(w, pair, first, seed); });
            break;
        }
        case role::producer:
            spec.name = "prod" + std::to_string(i);
            m.spawn(spec, [&w, seed] { producer_body(w, seed); });
            break;
        case role::consumer:
            spec.name = "cons" + std::to_string(i);
            m.spawn(spec, [&w, seed] { consumer_body(w, seed); });
            break;
        case role::irq_fed: {
            w.irq_feed.push_back(std::make_unique<kp::completion>());
            kp::completion* feed = w.irq_feed.back().get();
            spec.name = "irqf" + std::to_string(i);
            m.spawn(spec, [feed, seed] { irq_fed_body(*feed, seed); });
            break;
        }
        case role::worker:
            spec.name = "work" + std::to_string(i);
            m.spawn(spec, [seed] { worker_body(seed); });
            break;
        }
    }
}

double process_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

result run_once(const options& o) {
    kp::sim m({.nr_cpus = o.cpus, .hz = o.hz, .model = o.model, .stack_size = 64 * 1024});
    counter c;
    m.set_observer(&c);
    if (o.trace) m.kern().trace.enable(m.kern(), kp::TRACE_ALL_EVENTS, 1u << 16);
    world w;
    spawn_all(m, w, o);
    m.request_irq(1, "benchdev", [&m, &w] { device_handler(m, w); });
    m.raise_irq(device_period, 0, 1);

    const auto limit = static_cast<kp::nsec_t>(o.seconds * 1e9);
    const double c0 = process_cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    m.run(limit);
    const auto t1 = std::chrono::steady_clock::now();
    const double c1 = process_cpu_seconds();

    result r;
    r.wall_s = std::chrono::duration<double>(t1 - t0).count();
    r.cpu_s = c1 - c0;
    r.events = m.machine().events_processed();
    r.switches = c.switches;
    r.wakeups = c.wakeups;
    r.migrations = c.migrations;
    r.trace_hash = c.hash;
    r.irqs = m.machine().interrupts_delivered();
    r.device_irqs = w.device_irqs;
    r.virt = m.now();
    for (const auto& t : m.kern().tasks()) {
        r.nvcsw += t->nvcsw;
        r.nivcsw += t->nivcsw;
    }
    return r;
}

void report(const options& o, const result& r) {
    const double w = r.wall_s;
    const std::uint64_t irqs = r.irqs.timer + r.irqs.ipi + r.irqs.device;
    const std::uint64_t sched_events = r.switches + r.wakeups + irqs;
    std::printf("kpreempt-bench-sched: %d CPUs, %d tasks, %.3f s virtual, model %s, HZ %d\n", o.cpus, o.tasks,
                static_cast<double>(r.virt) / 1e9, std::string(kp::preempt_mode_name(o.model)).c_str(), o.hz);
    std::printf("  host wall time            %10.3f s   (steady_clock, around sim::run)\n", w);
    std::printf("  host CPU time             %10.3f s   (CLOCK_PROCESS_CPUTIME_ID)\n", r.cpu_s);
    std::printf("  machine events processed  %10llu   (events taken by the loop; superseded ones are dropped)\n",
                static_cast<unsigned long long>(r.events));
    std::printf("  context switches          %10llu   (nvcsw %llu + nivcsw %llu)\n",
                static_cast<unsigned long long>(r.switches), static_cast<unsigned long long>(r.nvcsw),
                static_cast<unsigned long long>(r.nivcsw));
    std::printf("  wakeups                   %10llu\n", static_cast<unsigned long long>(r.wakeups));
    std::printf("  migrations                %10llu\n", static_cast<unsigned long long>(r.migrations));
    std::printf("  interrupts delivered      %10llu   (local timer %llu, IPI %llu, device %llu)\n",
                static_cast<unsigned long long>(irqs), static_cast<unsigned long long>(r.irqs.timer),
                static_cast<unsigned long long>(r.irqs.ipi), static_cast<unsigned long long>(r.irqs.device));
    std::printf("  scheduling events         %10llu   = switches + wakeups + interrupts delivered\n",
                static_cast<unsigned long long>(sched_events));
    std::printf("  event trace hash          %016llx   (of every switch, wakeup, migration)\n",
                static_cast<unsigned long long>(r.trace_hash));
    std::printf("rates per second of host time:\n");
    std::printf("  scheduling events/s       %10.3f M\n", static_cast<double>(sched_events) / w / 1e6);
    std::printf("  machine events/s          %10.3f M\n", static_cast<double>(r.events) / w / 1e6);
    std::printf("  context switches/s        %10.3f M\n", static_cast<double>(r.switches) / w / 1e6);
    std::printf("  virtual/host time ratio   %10.3f\n", static_cast<double>(r.virt) / 1e9 / w);
    std::printf("per second of host CPU time (the same when the host is idle):\n");
    std::printf("  scheduling events/s       %10.3f M\n", static_cast<double>(sched_events) / r.cpu_s / 1e6);
    std::printf("  machine events/s          %10.3f M\n", static_cast<double>(r.events) / r.cpu_s / 1e6);
}

}  // namespace

int main(int argc, char** argv) {
    const options o = parse(argc, argv);
    for (int i = 0; i < o.repeat; ++i) report(o, run_once(o));
    return 0;
}
