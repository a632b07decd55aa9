#include "workload/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "kernel/preempt/model.h"

namespace kp::workload {

namespace {

std::string fmt(const char* f, auto... args) {
    char buf[512];
    std::snprintf(buf, sizeof buf, f, args...);
    return buf;
}

double ms(nsec_t ns) { return static_cast<double>(ns) / 1e6; }
double us(double ns) { return ns / 1e3; }

std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) out += fmt("\\u%04x", c);
            else out += c;
        }
    }
    return out + "\"";
}

std::string share(nsec_t part, nsec_t total) {
    return total > 0 ? fmt("%6.1f", 100.0 * static_cast<double>(part) / static_cast<double>(total)) : "     -";
}

using u64 = unsigned long long;

// Up to this many CPUs the interrupt tables have a column per CPU (about 100
// columns at 8); beyond, one TOTAL column (the JSON report has every CPU).
constexpr std::size_t max_cpu_columns = 8;

template <class T>
T sum(const std::vector<T>& v) {
    T s{};
    for (T x : v) s += x;
    return s;
}

// The count columns of one row: one per CPU, or the total.
std::string count_cells(const std::vector<std::uint64_t>& per_cpu, std::size_t ncpu) {
    if (ncpu > max_cpu_columns) return fmt(" %10llu", static_cast<u64>(sum(per_cpu)));
    std::string out;
    for (std::size_t c = 0; c < ncpu; ++c) out += fmt(" %9llu", static_cast<u64>(c < per_cpu.size() ? per_cpu[c] : 0));
    return out;
}

std::string count_header(std::size_t ncpu) {
    if (ncpu > max_cpu_columns) return fmt(" %10s", "TOTAL");
    std::string out;
    for (std::size_t c = 0; c < ncpu; ++c) out += fmt(" %9s", ("CPU" + std::to_string(c)).c_str());
    return out;
}

// /proc/interrupts: a row per device line and one for NMIs, with the
// hardirq time of each (all CPUs) in ms.
std::string interrupts_table(const run_result& r) {
    const bool nmis = std::any_of(r.cpu.begin(), r.cpu.end(), [](const cpu_result& u) { return u.nmi_count; });
    if (r.interrupts.empty() && !nmis) return {};
    const std::size_t ncpu = r.cpu.size();
    std::string out = fmt("\nINTERRUPTS%s\n", ncpu > max_cpu_columns ? fmt(" (%zu CPUs, totals)", ncpu).c_str() : "");
    out += fmt("%4s%s %10s\n", "", count_header(ncpu).c_str(), "TIME(ms)");
    for (const irq_line_result& l : r.interrupts)
        out += fmt("%3d:%s %10.3f  ", l.irq, count_cells(l.count, ncpu).c_str(), ms(sum(l.time))) + l.name + "\n";
    std::vector<std::uint64_t> nmi_count;
    nsec_t nmi_time = 0;
    for (const cpu_result& u : r.cpu) {
        nmi_count.push_back(u.nmi_count);
        nmi_time += u.nmi_time;
    }
    out += fmt("NMI:%s %10.3f  %s\n", count_cells(nmi_count, ncpu).c_str(), ms(nmi_time), "Non-maskable interrupts");
    return out;
}

// /proc/softirqs: all ten vectors once any ran, with the softirq time of
// each (all CPUs) in ms; then, per CPU, what ksoftirqd served and why the
// restart loop handed it work.
std::string softirqs_table(const run_result& r) {
    const bool any = std::any_of(r.softirqs.begin(), r.softirqs.end(), [](const softirq_result& s) {
        return std::any_of(s.count.begin(), s.count.end(), [](std::uint64_t n) { return n != 0; });
    });
    if (!any) return {};
    const std::size_t ncpu = r.cpu.size();
    std::string out = fmt("\nSOFTIRQS%s\n", ncpu > max_cpu_columns ? fmt(" (%zu CPUs, totals)", ncpu).c_str() : "");
    out += fmt("%9s%s %10s\n", "", count_header(ncpu).c_str(), "TIME(ms)");
    for (const softirq_result& s : r.softirqs)
        out += fmt("%8s:%s %10.3f\n", s.name.c_str(), count_cells(s.count, ncpu).c_str(), ms(sum(s.time)));
    const bool handoffs = std::any_of(r.cpu.begin(), r.cpu.end(), [](const cpu_result& u) {
        return u.ksoftirqd || u.softirq_restart_limit || u.softirq_time_limit || u.softirq_need_resched;
    });
    if (!handoffs) return out;
    out += "\nKSOFTIRQD: its softirq time; restart loops that handed it work, by the bound they hit\n";
    out += fmt("%-4s %14s %14s %11s %13s\n", "CPU", "KSOFTIRQD(ms)", "RESTART LIMIT", "TIME LIMIT", "NEED_RESCHED");
    for (std::size_t c = 0; c < ncpu; ++c) {
        const cpu_result& u = r.cpu[c];
        const bool idle = !u.ksoftirqd && !u.softirq_restart_limit && !u.softirq_time_limit && !u.softirq_need_resched;
        if (ncpu > max_cpu_columns && idle) continue;  // many CPUs: only those with something to show
        out += fmt("%-4zu %14.3f %14llu %11llu %13llu\n", c, ms(u.ksoftirqd), static_cast<u64>(u.softirq_restart_limit),
                   static_cast<u64>(u.softirq_time_limit), static_cast<u64>(u.softirq_need_resched));
    }
    return out;
}

// A JSON array of integers.
template <class T>
std::string json_ints(const std::vector<T>& v) {
    std::string out = "[";
    for (std::size_t i = 0; i < v.size(); ++i) out += fmt(i ? ", %lld" : "%lld", static_cast<long long>(v[i]));
    return out + "]";
}

// The rows of "interrupts" or "softirqs" and the closing bracket: an id,
// the name, and count and time per CPU.
template <class Row, class Id>
std::string json_counter_rows(const char* id_key, const std::vector<Row>& rows, Id id) {
    std::string out;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const Row& row = rows[i];
        out += i ? ",\n    " : "\n    ";
        out += fmt("{\"%s\": %d, \"name\": ", id_key, id(row)) + json_string(row.name);
        out += ", \"count_per_cpu\": " + json_ints(row.count) + ", \"time_ns_per_cpu\": " + json_ints(row.time) + "}";
    }
    return out + (rows.empty() ? "]" : "\n  ]");
}

}  // namespace

std::string format_summary(const run_result& r) {
    const char* time = r.backend == backend_kind::host ? "real time on the host machine" : "virtual time";
    std::string out = fmt("kpreempt: %s  model=%s cpus=%d hz=%d  ran %.3f ms of %s\n\n", r.file.c_str(),
                          std::string(preempt_mode_name(r.model)).c_str(), r.cpus, r.hz, ms(r.duration), time);
    out += fmt("%-16s %5s %-11s %4s %6s %10s  %-36s %10s %6s %6s\n", "TASK", "PID", "POLICY", "PRIO", "RUNS",
               "FIRST(ms)", "WAKEUP LATENCY us: min/mean/p99/max", "RUN(ms)", "VOL", "INVOL");
    for (const task_result& t : r.tasks) {
        const latency_stats& l = t.wakeup_latency;
        const std::string lat = l.count ? fmt("%.1f/%.1f/%.1f/%.1f", us(double(l.min)), us(l.mean),
                                              us(double(l.p99)), us(double(l.max)))
                                        : std::string("-");
        const std::string first = t.first_run ? fmt("%.3f", ms(*t.first_run)) : std::string("never");
        out += fmt("%-16s %5d %-11s %4d %6llu %10s  %-36s %10.3f %6llu %6llu\n", t.name.c_str(), t.pid,
                   t.policy.c_str(), t.priority, static_cast<unsigned long long>(t.runs), first.c_str(), lat.c_str(),
                   ms(t.runtime), static_cast<unsigned long long>(t.nvcsw), static_cast<unsigned long long>(t.nivcsw));
    }
    out += fmt("\n%-4s %6s %6s %6s %8s %6s   (%% of elapsed time)\n", "CPU", "USER", "SYS", "IRQ", "SOFTIRQ", "IDLE");
    for (std::size_t c = 0; c < r.cpu.size(); ++c) {
        const cpu_result& u = r.cpu[c];
        const nsec_t total = u.user + u.system + u.irq + u.softirq + u.idle;
        out += fmt("%-4zu %s %s %s %s   %s\n", c, share(u.user, total).c_str(), share(u.system, total).c_str(),
                   share(u.irq, total).c_str(), ("  " + share(u.softirq, total)).c_str(), share(u.idle, total).c_str());
    }
    out += interrupts_table(r);
    out += softirqs_table(r);
    for (const std::string& w : r.warnings) out += w + "\n";
    for (const std::string& line : r.kernel_log) out += "kernel: " + line + "\n";
    return out;
}

std::string format_json(const run_result& r) {
    std::string out = "{\n";
    out += "  \"kpreempt_report\": 1,\n";
    // Only on the host: a simulated run's report stays byte for byte what it was.
    if (r.backend == backend_kind::host) out += "  \"backend\": \"host\",\n";
    out += "  \"file\": " + json_string(r.file) + ",\n";
    out += "  \"model\": " + json_string(std::string(preempt_mode_name(r.model))) + ",\n";
    out += fmt("  \"cpus\": %d,\n  \"hz\": %d,\n  \"seed\": %llu,\n  \"duration_ns\": %lld,\n", r.cpus, r.hz,
               static_cast<unsigned long long>(r.seed), static_cast<long long>(r.duration));
    out += "  \"tasks\": [";
    for (std::size_t i = 0; i < r.tasks.size(); ++i) {
        const task_result& t = r.tasks[i];
        const latency_stats& l = t.wakeup_latency;
        out += i ? ",\n    {" : "\n    {";
        out += "\"name\": " + json_string(t.name) + fmt(", \"pid\": %d", t.pid);
        out += ", \"policy\": " + json_string(t.policy) + fmt(", \"priority\": %d", t.priority);
        out += t.first_run ? fmt(", \"first_run_ns\": %lld", static_cast<long long>(*t.first_run))
                           : std::string(", \"first_run_ns\": null");
        out += fmt(", \"runs\": %llu", static_cast<unsigned long long>(t.runs));
        out += fmt(", \"wakeup_latency_ns\": {\"min\": %lld, \"mean\": %lld, \"p99\": %lld, \"max\": %lld, \"count\": %llu}",
                   static_cast<long long>(l.min), static_cast<long long>(std::llround(l.mean)),
                   static_cast<long long>(l.p99), static_cast<long long>(l.max),
                   static_cast<unsigned long long>(l.count));
        out += fmt(", \"runtime_ns\": %lld, \"nvcsw\": %llu, \"nivcsw\": %llu, \"exited\": %s}",
                   static_cast<long long>(t.runtime), static_cast<unsigned long long>(t.nvcsw),
                   static_cast<unsigned long long>(t.nivcsw), t.exited ? "true" : "false");
    }
    out += "\n  ],\n  \"cpu\": [";
    for (std::size_t c = 0; c < r.cpu.size(); ++c) {
        const cpu_result& u = r.cpu[c];
        out += c ? ",\n    " : "\n    ";
        out += fmt("{\"cpu\": %zu, \"user_ns\": %lld, \"system_ns\": %lld, \"irq_ns\": %lld, \"softirq_ns\": %lld, "
                   "\"idle_ns\": %lld",
                   c, static_cast<long long>(u.user), static_cast<long long>(u.system), static_cast<long long>(u.irq),
                   static_cast<long long>(u.softirq), static_cast<long long>(u.idle));
        out += fmt(", \"nmi_count\": %llu, \"nmi_ns\": %lld, \"ksoftirqd_ns\": %lld", static_cast<u64>(u.nmi_count),
                   static_cast<long long>(u.nmi_time), static_cast<long long>(u.ksoftirqd));
        out += fmt(", \"ksoftirqd_handoffs\": {\"restart_limit\": %llu, \"time_limit\": %llu, \"need_resched\": %llu}}",
                   static_cast<u64>(u.softirq_restart_limit), static_cast<u64>(u.softirq_time_limit),
                   static_cast<u64>(u.softirq_need_resched));
    }
    out += "\n  ],\n  \"interrupts\": [";
    out += json_counter_rows("irq", r.interrupts, [](const irq_line_result& l) { return l.irq; });
    out += ",\n  \"softirqs\": [";
    out += json_counter_rows("vector", r.softirqs, [](const softirq_result& v) { return v.vector; });
    out += ",\n  \"warnings\": [";
    for (std::size_t i = 0; i < r.warnings.size(); ++i) out += (i ? ", " : "") + json_string(r.warnings[i]);
    out += "],\n  \"kernel_log\": [";
    for (std::size_t i = 0; i < r.kernel_log.size(); ++i) out += (i ? ", " : "") + json_string(r.kernel_log[i]);
    out += "]\n}\n";
    return out;
}

std::string format_compare(const std::vector<run_result>& runs) {
    if (runs.empty()) return {};
    std::string out = fmt("kpreempt compare: %s  cpus=%d hz=%d%s\n\n", runs[0].file.c_str(), runs[0].cpus, runs[0].hz,
                          runs[0].backend == backend_kind::host ? "  (host machine, real time)" : "");
    out += fmt("%-28s", "");
    for (const run_result& r : runs) out += fmt(" %22s", std::string(preempt_mode_name(r.model)).c_str());
    out += "\n";
    auto row = [&](const std::string& label, auto cell) {
        out += fmt("%-28s", label.c_str());
        for (const run_result& r : runs) out += fmt(" %22s", cell(r).c_str());
        out += "\n";
    };
    for (std::size_t i = 0; i < runs[0].tasks.size(); ++i) {
        const std::string name = runs[0].tasks[i].name;
        auto task = [i](const run_result& r) -> const task_result& { return r.tasks[i]; };
        row(name + " first run (ms)", [&](const run_result& r) {
            return task(r).first_run ? fmt("%.3f", ms(*task(r).first_run)) : std::string("never");
        });
        row(name + " wakeup p99 (us)", [&](const run_result& r) {
            return task(r).wakeup_latency.count ? fmt("%.1f", us(double(task(r).wakeup_latency.p99))) : std::string("-");
        });
        row(name + " wakeup max (us)", [&](const run_result& r) {
            return task(r).wakeup_latency.count ? fmt("%.1f", us(double(task(r).wakeup_latency.max))) : std::string("-");
        });
        row(name + " run time (ms)", [&](const run_result& r) { return fmt("%.3f", ms(task(r).runtime)); });
        row(name + " vol/invol", [&](const run_result& r) {
            return fmt("%llu/%llu", static_cast<unsigned long long>(task(r).nvcsw),
                       static_cast<unsigned long long>(task(r).nivcsw));
        });
    }
    return out;
}

}  // namespace kp::workload
