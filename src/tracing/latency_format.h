// The latency tracers' reports, as tracefs's `trace` file prints a latency
// tracer's max buffer (kernel/trace/trace.c: print_trace_header,
// print_lat_help_header; trace_output.c: trace_print_lat_context,
// lat_print_timestamp, trace_ctxwake_print):
//
//   # tracer: irqsoff
//   #
//   # irqsoff latency trace v1.1.5 on 6.12.0-kpreempt
//   # --------------------------------------------------------------------
//   # latency: 100 us, #8/8, CPU#0 | (M:preempt VP:0, KP:0, SP:0 HP:0 #P:1)
//   #    -----------------
//   #    | task: TaskA-3 (uid:0 nice:0 policy:0 rt_prio:0)
//   #    -----------------
//   #  => started at: kp::handle_arch_irq
//   #  => ended at:   kp::irqentry_exit
//   ...the column legend, then one line per entry of the window:
//      TaskA-3         0d....    0us : irq_disable: caller=kp::handle_arch_irq+0x0/0x7ce parent=0x0
//
// The release is "6.12.0-kpreempt": Linux 6.12's formats, our kernel.
// M: is 6.12's model word (server, desktop, preempt for our none,
// voluntary, full), not the newer preempt_model_str() that dmesg prints.
#pragma once

#include <string>
#include <string_view>

#include "kernel/trace/latency_tracer.h"

namespace kp {

class kernel;
class trace_pointer_ids;

inline constexpr std::string_view kpreempt_uts_release = "6.12.0-kpreempt";

// print_trace_header's M: word for a model.
std::string_view latency_model_name(preempt_mode m);

// trace_find_mark: the delay column's mark for `d` ns to the next entry.
char trace_find_mark(nsec_t d);

// One entry as a latency-format line (without the newline): `time_start`
// is the window's start, `next_time` the next entry's time (its own for
// the last).
std::string format_latency_line(kernel& k, const latency_entry& x, nsec_t time_start, nsec_t next_time,
                                trace_pointer_ids& ids);

// One snapshot: "# tracer:", the header and every line.
std::string format_latency_trace(kernel& k, std::string_view tracer, const latency_snapshot& s);

// The whole report of a tracer: each snapshot it kept, or only
// "# tracer: <name>" when nothing was measured.
std::string format_latency_report(kernel& k, const latency_tracer& t);

}  // namespace kp
