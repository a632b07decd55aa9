// trace_<event>(...): fire a tracepoint on the calling CPU (or, while a
// machine is being set up and no CPU runs, as CPU 0's idle task). Off, it is
// a no-op instruction (a site of the static key trace_key); everything
// else is in a cold function out of line, so that a tracepoint takes no
// registers or stack from the function it sits in.
#pragma once

#include "kernel/kernel.h"

namespace kp {

template <class... A>
[[gnu::cold, gnu::noinline]] void trace_point_slow(kernel& k, trace_event e, A... args) {
    percpu* pc = this_cpu_ptr;
    const std::uint64_t live = pc ? pc->trace_mask : k.trace.live_mask;
    if (live & trace_bit(e)) k.trace.record(pc, e, {static_cast<std::int64_t>(args)...}, k.arch().now());
}

template <class... A>
[[gnu::cold, gnu::noinline]] void trace_point_slow(trace_event e, A... args) {
    percpu* pc = this_cpu_ptr;
    if (pc->trace_mask & trace_bit(e))
        pc->k->trace.record(pc, e, {static_cast<std::int64_t>(args)...}, pc->k->arch().now());
}

}  // namespace kp

// trace_point([k,] event, args...): as Linux's trace_<event>(), a macro so
// that the arguments are evaluated only behind the open gate. As a function
// they would be loaded before the no-op on every pass (GCC does not sink
// them below the asm goto): on __schedule alone that was ten instructions a
// switch with tracing off.
#define trace_point(...)                                                    \
    do {                                                                    \
        if (::kp::tracepoints_compiled && ::kp::trace_gate_open()) [[unlikely]] \
            ::kp::trace_point_slow(__VA_ARGS__);                            \
    } while (0)
