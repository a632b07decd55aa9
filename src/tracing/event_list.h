// Which trace events to record, from a user's list: event names as tracefs
// names them ("sched_switch"), a prefix ending in '*' ("sched_*", as
// set_event takes), or "all"; comma-separated.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace kp {

struct trace_event_list_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The events recorded when none are named: scheduling, interrupts,
// softirqs, IPIs and ours, but not the preemptirq and hrtimer events, which
// fire many times per scheduling event (docs/tracing.md).
std::uint64_t default_trace_events();

// The mask of `list`; throws trace_event_list_error naming the first name
// that matches no event, with the valid names.
std::uint64_t parse_trace_events(std::string_view list);

// "all, sched_switch, sched_waking, ...": for messages and --help.
std::string trace_event_names();

}  // namespace kp
