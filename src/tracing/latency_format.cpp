#include "tracing/latency_format.h"

#include <cinttypes>
#include <cstdio>

#include "kernel/kernel.h"
#include "tracing/ftrace_text.h"

namespace kp {

namespace {

// ns2usecs: rounded to the nearest microsecond.
long long ns2usecs(nsec_t ns) { return static_cast<long long>((ns + 500) / 1000); }

// %ps: the symbol alone, without %pS's "+0xoff/0xsize".
std::string ps(std::int64_t addr) {
    std::string s = format_code_address(static_cast<std::uintptr_t>(addr));
    if (s.starts_with("0x")) return s;  // no symbol: the address
    if (const std::size_t plus = s.rfind('+'); plus != std::string::npos) s.resize(plus);
    return s;
}

// print_lat_help_header, as 6.12 prints it (trailing blanks included).
constexpr const char* lat_help_header =
    "#                    _------=> CPU#            \n"
    "#                   / _-----=> irqs-off/BH-disabled\n"
    "#                  | / _----=> need-resched    \n"
    "#                  || / _---=> hardirq/softirq \n"
    "#                  ||| / _--=> preempt-depth   \n"
    "#                  |||| / _-=> migrate-disable \n"
    "#                  ||||| /     delay           \n"
    "#  cmd     pid     |||||| time  |   caller     \n"
    "#     \\   /        ||||||  \\    |    /       \n";

std::string body(kernel& k, const latency_entry& x, trace_pointer_ids& ids) {
    switch (x.kind) {
    case latency_entry_kind::event:
        return std::string(trace_event_name(x.e.type)) + ": " + format_event_fields(k, x.e, &ids);
    case latency_entry_kind::function:  // trace_fn_trace: "ip <-parent", no parent if none
        return ps(x.e.arg[0]) + (x.e.arg[1] ? " <-" + ps(x.e.arg[1]) : std::string());
    case latency_entry_kind::wakeup:
    case latency_entry_kind::context_switch: {
        const ctxwake_fields& f = x.cw;
        char buf[160];
        std::snprintf(buf, sizeof buf, " %7d:%3d:%c %s [%03d] %7d:%3d:%c %s", f.prev_pid, f.prev_prio, f.prev_state,
                      x.kind == latency_entry_kind::wakeup ? "  +" : "==>", f.next_cpu, f.next_pid, f.next_prio,
                      f.next_state, task_comm(k, f.next_pid).c_str());
        return buf;
    }
    }
    return {};
}

// print_trace_header.
std::string header(std::string_view tracer, const latency_snapshot& s, int nr_cpus) {
    const std::string task = s.comm.substr(0, 16);
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "# %.*s latency trace v1.1.5 on %.*s\n"
                  "# --------------------------------------------------------------------\n"
                  "# latency: %lld us, #%zu/%" PRIu64 ", CPU#%d | (M:%.*s VP:0, KP:0, SP:0 HP:0 #P:%d)\n"
                  "#    -----------------\n"
                  "#    | task: %s-%d (uid:0 nice:%ld policy:%ld rt_prio:%ld)\n"
                  "#    -----------------\n",
                  static_cast<int>(tracer.size()), tracer.data(), static_cast<int>(kpreempt_uts_release.size()),
                  kpreempt_uts_release.data(), static_cast<long long>(s.latency / 1000), s.entries.size(), s.written,
                  s.cpu, static_cast<int>(latency_model_name(s.model).size()), latency_model_name(s.model).data(),
                  nr_cpus, task.c_str(), s.pid, s.nice, s.policy, s.rt_priority);
    std::string out = buf;
    if (s.critical_start) {
        out += "#  => started at: " + ps(s.critical_start) + "\n";
        out += "#  => ended at:   " + ps(s.critical_end) + "\n#\n";
    }
    out += "#\n";
    return out;
}

}  // namespace

std::string_view latency_model_name(preempt_mode m) {
    switch (m) {
    case preempt_mode::none: return "server";
    case preempt_mode::voluntary: return "desktop";
    case preempt_mode::full: return "preempt";
    }
    return "unknown";
}

char trace_find_mark(nsec_t d) {
    constexpr struct {
        nsec_t val;
        char sym;
    } marks[] = {{1000000000, '$'}, {100000000, '@'}, {10000000, '*'}, {1000000, '#'}, {100000, '!'}, {10000, '+'}};
    for (const auto& m : marks)
        if (d > m.val) return m.sym;
    return ' ';
}

// trace_print_lat_context + lat_print_timestamp (not verbose, ns clock):
// the time since the window's start, marked by the gap to the next entry.
std::string format_latency_line(kernel& k, const latency_entry& x, nsec_t time_start, nsec_t next_time,
                                trace_pointer_ids& ids) {
    const long long abs_us = ns2usecs(x.e.time - time_start);
    const long long rel_us = ns2usecs(next_time - x.e.time);
    char head[96];
    std::snprintf(head, sizeof head, "%8.8s-%-7d %3d%s %4lldus%c: ", task_comm(k, x.e.pid).c_str(), x.e.pid, x.e.cpu,
                  format_trace_flags(x.e).c_str(), abs_us, trace_find_mark(rel_us * 1000));
    return head + body(k, x, ids);
}

std::string format_latency_trace(kernel& k, std::string_view tracer, const latency_snapshot& s) {
    std::string out = "# tracer: " + std::string(tracer) + "\n#\n";
    out += header(tracer, s, k.nr_cpus());
    out += lat_help_header;
    trace_pointer_ids ids;
    for (std::size_t i = 0; i < s.entries.size(); ++i) {
        const nsec_t next = i + 1 < s.entries.size() ? s.entries[i + 1].e.time : s.entries[i].e.time;
        out += format_latency_line(k, s.entries[i], s.time_start, next, ids);
        out += '\n';
    }
    return out;
}

std::string format_latency_report(kernel& k, const latency_tracer& t) {
    if (t.snapshots().empty()) return "# tracer: " + t.name() + "\n#\n";
    std::string out;
    for (const latency_snapshot& s : t.snapshots()) {
        if (!out.empty()) out += '\n';
        out += format_latency_trace(k, t.name(), s);
    }
    if (t.snapshots_dropped())
        out += "\n# " + std::to_string(t.snapshots_dropped()) + " more windows over tracing_thresh, not kept\n";
    return out;
}

}  // namespace kp
