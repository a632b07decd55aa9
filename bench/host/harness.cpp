// kpreempt-bench-host: the host machine's latency, tick and memory
// benchmarks beside their peers (docs/performance.md). Not tests: each
// subcommand prints "RESULT key value" lines that bench/host/run.sh turns
// into one table.
//
//   kpreempt-bench-host preempt-signal [--events N] [--hz HZ]
//   kpreempt-bench-host wakeup --model none|voluntary|full --load idle|kernel-hog|user-spin
//                              [--policy fifo|normal] [--samples N] [--seconds S] [--interval-us US] --key K
//   kpreempt-bench-host tick [--subject kp|bare|bare-timer] [--hz HZ] [--seconds S] --key K
//   kpreempt-bench-host tasks [--count N] [--stack-kib K]
//   kpreempt-bench-host host-hog [--cpu C] [--seconds S]
//
// The measured vCPU (or peer thread) is on host CPU 0; senders and the
// machine's watcher thread on host CPU 1.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "benches.h"
#include "common.h"

namespace kpbench {

namespace {

// --name value pairs, and bare --flags (value "1").
class options {
public:
    options(int argc, char** argv, int first) {
        for (int i = first; i < argc; ++i) {
            if (std::strncmp(argv[i], "--", 2) != 0)
                throw std::invalid_argument(std::string("unexpected argument: ") + argv[i]);
            const std::string a(argv[i] + 2);
            const bool has_value = i + 1 < argc && std::strncmp(argv[i + 1], "--", 2) != 0;
            values_.insert_or_assign(a, std::string(has_value ? argv[++i] : "1"));
        }
    }
    std::string str(const std::string& name, const std::string& fallback) const {
        auto it = values_.find(name);
        if (it == values_.end()) return fallback;
        used_.push_back(name);
        return it->second;
    }
    long num(const std::string& name, long fallback) const { return std::stol(str(name, std::to_string(fallback))); }
    double real(const std::string& name, double fallback) const {
        return std::stod(str(name, std::to_string(fallback)));
    }
    bool flag(const std::string& name) const { return str(name, "0") != "0"; }
    void check_all_used() const {
        for (const auto& [name, value] : values_) {
            bool used = false;
            for (const auto& u : used_) used = used || u == name;
            if (!used) throw std::invalid_argument("unknown option --" + name);
        }
    }

private:
    std::map<std::string, std::string> values_;
    mutable std::vector<std::string> used_;
};

kp::preempt_mode parse_model(const std::string& s) {
    if (s == "none") return kp::preempt_mode::none;
    if (s == "voluntary") return kp::preempt_mode::voluntary;
    if (s == "full") return kp::preempt_mode::full;
    throw std::invalid_argument("--model none|voluntary|full, not " + s);
}

load_kind parse_load(const std::string& s) {
    if (s == "idle") return load_kind::idle;
    if (s == "kernel-hog") return load_kind::kernel_hog;
    if (s == "user-spin") return load_kind::user_spin;
    throw std::invalid_argument("--load idle|kernel-hog|user-spin, not " + s);
}

int run(int argc, char** argv) {
    if (argc < 2) throw std::invalid_argument("usage: see the comment at the top of bench/host/harness.cpp");
    const std::string cmd = argv[1];
    const options opt(argc, argv, 2);
    pin_this_thread(driver_cpu());
    tsc_calibration();
    if (cmd == "preempt-signal") {
        preempt_signal_options o;
        o.events = opt.num("events", o.events);
        o.hz = static_cast<int>(opt.num("hz", o.hz));
        opt.check_all_used();
        bench_preempt_signal(o);
    } else if (cmd == "wakeup") {
        wakeup_options o;
        o.model = parse_model(opt.str("model", "full"));
        o.load = parse_load(opt.str("load", "kernel-hog"));
        const std::string policy = opt.str("policy", "fifo");
        if (policy != "fifo" && policy != "normal") throw std::invalid_argument("--policy fifo|normal");
        o.fifo = policy == "fifo";
        o.samples = opt.num("samples", o.samples);
        o.seconds = opt.real("seconds", o.seconds);
        o.interval_us = opt.num("interval-us", o.interval_us);
        o.key = opt.str("key", "wakeup");
        opt.check_all_used();
        bench_wakeup(o);
    } else if (cmd == "tick") {
        tick_options o;
        o.hz = static_cast<int>(opt.num("hz", o.hz));
        const std::string subject = opt.str("subject", "kp");
        if (subject == "kp") o.subject = tick_subject::kp;
        else if (subject == "bare") o.subject = tick_subject::bare;
        else if (subject == "bare-timer") o.subject = tick_subject::bare_timer;
        else throw std::invalid_argument("--subject kp|bare|bare-timer");
        o.seconds = opt.real("seconds", o.seconds);
        o.key = opt.str("key", "tick");
        opt.check_all_used();
        bench_tick(o);
    } else if (cmd == "tasks") {
        tasks_options o;
        o.count = opt.num("count", o.count);
        o.stack_kib = opt.num("stack-kib", o.stack_kib);
        opt.check_all_used();
        bench_tasks(o);
    } else if (cmd == "host-hog") {
        const int cpu = static_cast<int>(opt.num("cpu", measured_cpu));
        const double seconds = opt.real("seconds", 10);
        opt.check_all_used();
        host_hog(cpu, seconds);
    } else {
        throw std::invalid_argument("unknown subcommand " + cmd);
    }
    return 0;
}

double timeval_s(const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6; }

}  // namespace

// 16 MiB reads: each read(2) is the kernel clearing 16 MiB of user memory
// (read_iter_zero), with whatever preemption points the host kernel has.
void host_hog(int cpu, double seconds) {
    pin_this_thread(cpu);
    constexpr std::size_t chunk = 16u << 20;
    auto buf = std::make_unique<char[]>(chunk);
    std::memset(buf.get(), 1, chunk);  // faulted in: the reads are the kernel's clearing only
    const int fd = open("/dev/zero", O_RDONLY);
    if (fd < 0) throw std::runtime_error("host-hog: cannot open /dev/zero");
    const std::int64_t end = monotonic_ns() + static_cast<std::int64_t>(seconds * 1e9);
    long reads = 0;
    while (monotonic_ns() < end) {
        if (read(fd, buf.get(), chunk) != static_cast<ssize_t>(chunk)) break;
        ++reads;
    }
    close(fd);
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    result("host_hog.reads", static_cast<double>(reads));
    result("host_hog.read_us", reads ? seconds * 1e6 / static_cast<double>(reads) : 0);
    result("host_hog.system_s", timeval_s(ru.ru_stime));
    result("host_hog.user_s", timeval_s(ru.ru_utime));
}

}  // namespace kpbench

int main(int argc, char** argv) {
    try {
        return kpbench::run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kpreempt-bench-host: %s\n", e.what());
        return 2;
    }
}
