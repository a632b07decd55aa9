// local_bh_disable / local_bh_enable (include/linux/bottom_half.h).
//
// Disabling adds SOFTIRQ_DISABLE_OFFSET (twice SOFTIRQ_OFFSET) to
// preempt_count, so it also disables preemption and makes in_softirq() and
// in_interrupt() true, but not in_serving_softirq(). The outermost enable
// runs what was raised meanwhile (outside interrupt context), and then is a
// preemption point like preempt_enable().
#pragma once

#include "kernel/irq/softirq.h"
#include "kernel/preempt/preempt.h"

namespace kp {

void local_bh_disable();
void local_bh_enable();
// Drop the bh count without serving pending softirqs (_local_bh_enable).
void _local_bh_enable();

struct bh_disable_ops {
    void acquire() { local_bh_disable(); }
    void release() { local_bh_enable(); }
};
using bh_guard = scoped<bh_disable_ops>;

}  // namespace kp
