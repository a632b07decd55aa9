// `kpreempt latency`: cyclictest's options (as its getopt reads them: short
// options with the value attached or next, -t and -a with an optional
// value, long options with '=' or the value next), kpreempt's machine and
// load options, and one run per model.
#include "latency_cli.h"

#include <cstdio>
#include <cstdlib>
#include <optional>

#include "cli_args.h"
#include "kernel/preempt/model.h"
#include "workload/cyclictest.h"
#include "workload/latency_load.h"

namespace {

using namespace kp::workload;

constexpr const char* latency_help =
    "usage: kpreempt latency [options]\n"
    "\n"
    "cyclictest (rt-tests) of kpreempt's kernel, on the simulated machine or (with\n"
    "--backend host) on the host's CPUs: each thread sleeps until an absolute time\n"
    "(clock_nanosleep, TIMER_ABSTIME), then every INTERVAL again, and measures how\n"
    "late it woke (now - next). The results are printed as cyclictest prints them at\n"
    "its end. The run needs an end: without -D and -l, -D 1.\n"
    "\n"
    "cyclictest's options:\n"
    "  -i, --interval=US        base interval of a thread in us (default 1000)\n"
    "  -p, --priority=PRIO      SCHED_FIFO at PRIO, 1 to 99 (default SCHED_OTHER;\n"
    "                           -p 0 is SCHED_FIFO at threads + 1, as in cyclictest)\n"
    "  -t, --threads[=NUM]      NUM threads (default 1); -t alone: one per CPU\n"
    "  -a, --affinity[=CPUSET]  pin threads round-robin over CPUSET (e.g. 3-5,0);\n"
    "                           -a alone: thread N on CPU N\n"
    "  -S, --smp                -a -t: one pinned thread per CPU\n"
    "  -D, --duration=TIME      seconds (virtual, or real on the host), or with a suffix s, m, h, d\n"
    "  -l, --loops=LOOPS        cycles per thread (0: no limit)\n"
    "  -d, --distance=US        each thread's interval longer by US (default 500; 0 with -h)\n"
    "  -h, --histogram=US       latency histogram up to US, printed at the end\n"
    "  -H, --histofall=US       -h with a column for all threads together\n"
    "  -q, --quiet              print only the summary\n"
    "  -N, --nsecs              values in ns instead of us\n"
    "  -m, -n                   accepted, no effect (nothing pages out here, and\n"
    "                           the sleep is always clock_nanosleep)\n"
    "\n"
    "kpreempt's options:\n"
    "  --backend sim|host             sim: the simulated machine (virtual time, deterministic;\n"
    "                                 the default); host: vCPU threads in real time, so the\n"
    "                                 latencies are real ones and vary run to run\n"
    "  --model none|voluntary|full    preemption model (default: the load file's, else full)\n"
    "  --models none,voluntary,full   one run per model, each block headed '# model: M'\n"
    "  --cpus N                       CPUs, 1 to 256 (default: the load file's, else\n"
    "                                 enough for -a and the load)\n"
    "  --hz N                         scheduler tick rate, 1 to 10000\n"
    "  --seed S                       seed of the random interrupt sources\n"
    "  --load kernel-hog|softirq-storm|FILE\n"
    "                                 a background load, repeatable: kernel-hog is a\n"
    "                                 SCHED_NORMAL task in 20 ms syscalls with a\n"
    "                                 might_sleep() every 1 ms on each measured CPU;\n"
    "                                 softirq-storm a NIC with 60 us of NET_RX per packet\n"
    "                                 every 50 us on each; FILE any workload file\n"
    "  --threadirqs                   force-threaded interrupts\n"
    "  --ksoftirqd-defer              irq exit leaves softirqs to a runnable ksoftirqd\n"
    "  --help                         this text\n";

using kpcli::model;
using kpcli::number;
using kpcli::usage_error;

struct latency_cli {
    cyclictest_options ct;
    run_options opt;
    std::vector<kp::preempt_mode> models;  // --models; empty: one run
    std::vector<std::string> loads;        // --load values, in order
    bool smp = false;
    bool help = false;
    std::vector<std::string> notes;  // cyclictest's warnings about ignored options
};

// cyclictest's parse_time_string: seconds, or minutes, hours, days with a
// suffix (and 's', which it ignores, for seconds).
long duration(const std::string& flag, const std::string& v) {
    const std::string bad = flag + ": expected a time of at least 1 s such as 10, 30s, 5m, 2h or 1d, got '" + v + "'";
    std::size_t digits = 0;
    while (digits < v.size() && v[digits] >= '0' && v[digits] <= '9') ++digits;
    if (digits == 0 || digits > 9 || v.size() > digits + 1) throw usage_error{bad};
    const long n = std::atol(v.substr(0, digits).c_str());
    long scale = 1;
    if (digits < v.size()) {
        switch (v[digits]) {
        case 's': case 'S': break;
        case 'm': case 'M': scale = 60; break;
        case 'h': case 'H': scale = 3600; break;
        case 'd': case 'D': scale = 86400; break;
        default: throw usage_error{bad};
        }
    }
    if (n < 1 || n > 365L * 86400 / scale) throw usage_error{bad};
    return n * scale;
}

// A CPU list as numactl writes it: "3", "0-3", "3-5,0".
std::vector<int> cpuset(const std::string& flag, const std::string& v) {
    const std::string bad = flag + ": expected a CPU list such as 2 or 0-3,6, got '" + v + "'";
    std::vector<int> cpus;
    for (std::size_t p = 0; p <= v.size();) {
        const std::size_t q = std::min(v.find(',', p), v.size());
        const std::string item = v.substr(p, q - p);
        const std::size_t dash = item.find('-');
        try {
            const long long lo = number(flag, item.substr(0, dash), 0, 255);
            const long long hi = dash == std::string::npos ? lo : number(flag, item.substr(dash + 1), lo, 255);
            for (long long c = lo; c <= hi; ++c) cpus.push_back(static_cast<int>(c));
        } catch (const usage_error&) {
            throw usage_error{bad};
        }
        p = q + 1;
    }
    return cpus;
}

enum class arg { none, required, optional };

// The letters of cyclictest's getopt string honoured here.
arg short_kind(char c) {
    switch (c) {
    case 'i': case 'p': case 'D': case 'l': case 'h': case 'H': case 'd': return arg::required;
    case 't': case 'a': return arg::optional;
    case 'q': case 'N': case 'm': case 'n': case 'S': return arg::none;
    default: throw usage_error{std::string("unknown option '-") + c + "'"};
    }
}

char long_letter(const std::string& name) {
    static const std::pair<const char*, char> longs[] = {
        {"interval", 'i'}, {"priority", 'p'}, {"duration", 'D'}, {"loops", 'l'},  {"histogram", 'h'},
        {"histofall", 'H'}, {"distance", 'd'}, {"threads", 't'}, {"affinity", 'a'}, {"quiet", 'q'},
        {"nsecs", 'N'},    {"mlockall", 'm'}, {"smp", 'S'}};
    for (const auto& [n, c] : longs)
        if (name == n) return c;
    return 0;
}

// One cyclictest option; `flag` is how it was written, for messages.
void cyclictest_option(latency_cli& c, char letter, const std::string& flag, const std::optional<std::string>& v) {
    cyclictest_options& o = c.ct;
    switch (letter) {
    case 'i': o.interval_us = static_cast<long>(number(flag, *v, 1, 3600000000LL)); break;
    case 'p': o.priority = static_cast<int>(number(flag, *v, 0, 99)); break;
    case 'D': o.duration_s = duration(flag, *v); break;
    case 'l': o.loops = static_cast<unsigned long>(number(flag, *v, 0, 1000000000LL)); break;
    case 'H': o.histofall = true; [[fallthrough]];
    case 'h': o.histogram = std::min(static_cast<long>(number(flag, *v, 0, 1LL << 40)), cyclictest_hist_max); break;
    case 'd': o.distance_us = static_cast<long>(number(flag, *v, 0, 3600000000LL)); break;
    case 't':
        o.thread_per_cpu = !v;
        if (v) o.threads = static_cast<int>(number(flag, *v, 1, 1024));
        break;
    case 'a':
        o.affinity = true;
        if (v) o.affinity_cpus = cpuset(flag, *v);
        break;
    case 'q': o.quiet = true; break;
    case 'N': o.nsecs = true; break;
    case 'S': c.smp = true; break;
    default: break;  // -m, -n: nothing to do here
    }
}

// cyclictest takes the next argument as -t's or -a's value when it looks
// like one (atoi() non-zero; for -a also a leading '0' or '!'). Here -t also
// takes "0", to say that it is out of range rather than leave it stray.
bool looks_like_value(char letter, const std::string& next) {
    if (next.empty()) return false;
    if (std::atoi(next.c_str()) != 0) return true;
    return next[0] == '0' || (letter == 'a' && next[0] == '!');
}

// A group of short options, getopt style: "-q", "-mq", "-i250", "-t".
void short_options(latency_cli& c, const std::vector<std::string>& args, std::size_t& i) {
    const std::string& a = args[i];
    for (std::size_t k = 1; k < a.size(); ++k) {
        const char letter = a[k];
        const std::string flag = std::string("-") + letter;
        const arg kind = short_kind(letter);
        if (kind == arg::none) {
            cyclictest_option(c, letter, flag, std::nullopt);
            continue;
        }
        std::optional<std::string> v;
        if (k + 1 < a.size()) v = a.substr(k + 1);
        else if (i + 1 < args.size() && (kind == arg::required || looks_like_value(letter, args[i + 1])))
            v = args[++i];
        if (kind == arg::required && !v)
            throw usage_error{flag + ": needs a value" +
                              (letter == 'h' ? std::string(" (the histogram's size in us; --help is the help)") : "")};
        cyclictest_option(c, letter, flag, v);
        return;
    }
}

void long_option(latency_cli& c, const std::vector<std::string>& args, std::size_t& i) {
    const std::string& a = args[i];
    const std::size_t eq = a.find('=');
    const std::string flag = a.substr(0, eq);
    std::optional<std::string> v;
    if (eq != std::string::npos) v = a.substr(eq + 1);
    auto value = [&]() -> const std::string& {
        if (!v && i + 1 >= args.size()) throw usage_error{flag + ": needs a value"};
        if (!v) v = args[++i];
        return *v;
    };
    if (const char letter = long_letter(flag.substr(2))) {
        const arg kind = short_kind(letter);
        if (kind == arg::none && v) throw usage_error{flag + ": takes no value"};
        if (kind == arg::required) value();
        if (kind == arg::optional && !v && i + 1 < args.size() && looks_like_value(letter, args[i + 1])) value();
        cyclictest_option(c, letter, flag, v);
    } else if (flag == "--help") c.help = true;
    else if (flag == "--backend") c.opt.backend = kpcli::backend(flag, value());
    else if (flag == "--model") c.opt.model = model(flag, value());
    else if (flag == "--models") {
        const std::string list = value();
        for (std::size_t p = 0; p <= list.size();) {
            const std::size_t q = std::min(list.find(',', p), list.size());
            c.models.push_back(model(flag, list.substr(p, q - p)));
            p = q + 1;
        }
    } else if (flag == "--cpus") c.opt.cpus = static_cast<int>(number(flag, value(), 1, 256));
    else if (flag == "--hz") c.opt.hz = static_cast<int>(number(flag, value(), 1, 10000));
    else if (flag == "--seed") c.opt.seed = static_cast<std::uint64_t>(number(flag, value(), 0, INT64_MAX));
    else if (flag == "--load") c.loads.push_back(value());
    else if (flag == "--threadirqs") c.opt.threadirqs = true;
    else if (flag == "--ksoftirqd-defer") c.opt.ksoftirqd_defer = true;
    else throw usage_error{"unknown option '" + flag + "'"};
}

latency_cli parse_args(const std::vector<std::string>& args) {
    latency_cli c;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a.rfind("--", 0) == 0 && a.size() > 2) long_option(c, args, i);
        else if (a.size() > 1 && a[0] == '-') short_options(c, args, i);
        else throw usage_error{"unexpected argument '" + a + "' (a load file goes after --load)"};
    }
    cyclictest_options& o = c.ct;
    if (c.opt.model && !c.models.empty()) throw usage_error{"--model and --models: give one of them"};
    if (c.smp) {
        // -S is -a -t; cyclictest ignores a -t or -a given with it.
        if (o.affinity || o.threads != 1 || o.thread_per_cpu) c.notes.push_back("-a and -t are ignored with -S");
        o.affinity = true;
        o.affinity_cpus.clear();
        o.thread_per_cpu = true;
    }
    if (o.histogram && o.distance_us && *o.distance_us != 0)
        c.notes.push_back("distance is ignored and set to 0, if histogram enabled");
    if (!o.duration_s && !o.loops) o.duration_s = cyclictest_default_duration_s;
    return c;
}

// The machine's CPU count: --cpus, else the load file's, else enough for
// every CPU that -a and the load files name.
int machine_cpus(const latency_cli& c, const workload& files) {
    if (c.opt.cpus) return *c.opt.cpus;
    if (files.global.cpus) return *files.global.cpus;
    int n = cpus_named(files);
    for (int cpu : c.ct.affinity_cpus) n = std::max(n, cpu + 1);
    return n;
}

// The --load values: files first (merged as rt-app's merge.py does, their
// "global" settings kept), then the built-in loads on the measured CPUs.
workload build_load(const latency_cli& c) {
    std::vector<std::string> files;
    for (const std::string& l : c.loads)
        if (l != "kernel-hog" && l != "softirq-storm") files.push_back(l);
    return files.empty() ? workload{} : load_workload(files);
}

void add_builtin_loads(const latency_cli& c, workload& load, const std::vector<int>& cpus) {
    for (const std::string& l : c.loads) {
        if (l == "kernel-hog") add_load(load, kernel_hog_load(cpus), "--load kernel-hog");
        else if (l == "softirq-storm") add_load(load, softirq_storm_load(cpus), "--load softirq-storm");
    }
}

std::string loadavg(const cyclictest_result& r) {
    const std::string machine = r.run.backend == backend_kind::host ? "host machine" : "simulated machine";
    return "(" + machine + ": model " + std::string(kp::preempt_mode_name(r.run.model)) + ", " +
           std::to_string(r.run.cpus) + (r.run.cpus == 1 ? " CPU" : " CPUs") + ", HZ " + std::to_string(r.run.hz) + ")";
}

int run(latency_cli& c) {
    workload load = build_load(c);
    const int nr_cpus = machine_cpus(c, load);
    for (int cpu : c.ct.affinity_cpus)
        if (cpu >= nr_cpus)
            throw usage_error{"-a: CPU " + std::to_string(cpu) + " does not exist (the machine has " +
                              std::to_string(nr_cpus) + "; --cpus N)"};
    const auto plan = plan_cyclictest(c.ct, nr_cpus);
    if (c.ct.priority == 0) std::fprintf(stderr, "defaulting realtime priority to %d\n", plan.front().prio);
    for (const std::string& note : c.notes) std::fprintf(stderr, "kpreempt: latency: warning: %s\n", note.c_str());
    add_builtin_loads(c, load, measured_cpus(plan));
    c.opt.cpus = nr_cpus;
    std::vector<std::optional<kp::preempt_mode>> models{c.opt.model};
    if (!c.models.empty()) models.assign(c.models.begin(), c.models.end());
    for (std::size_t i = 0; i < models.size(); ++i) {
        run_options opt = c.opt;
        opt.model = models[i];
        const cyclictest_result r = run_cyclictest(c.ct, plan, load, opt);
        for (const std::string& w : r.run.warnings) std::fprintf(stderr, "kpreempt: warning: %s\n", w.c_str());
        for (std::size_t t = 0; t < r.threads.size(); ++t)
            if (!r.threads[t].finished)
                std::fprintf(stderr, "kpreempt: warning: thread %zu had not finished at %.3f s (starved?)\n", t,
                             static_cast<double>(r.run.duration) / 1e9);
        if (!c.models.empty())
            std::printf("%s# model: %s\n", i ? "\n" : "", std::string(kp::preempt_mode_name(r.run.model)).c_str());
        std::fputs(format_cyclictest(r, c.ct, loadavg(r)).c_str(), stdout);
    }
    return 0;
}

}  // namespace

int latency_command(const std::vector<std::string>& args) {
    try {
        latency_cli c = parse_args(args);
        if (c.help) {
            std::fputs(latency_help, stdout);
            return 0;
        }
        return run(c);
    } catch (const usage_error& e) {
        std::fprintf(stderr, "kpreempt: latency: %s\nTry 'kpreempt latency --help'.\n", e.what.c_str());
        return 2;
    } catch (const workload_error& e) {
        std::fprintf(stderr, "kpreempt: %s\n", e.what());
        return 2;
    }
}
