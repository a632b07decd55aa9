// The kernel's debugging aids, with its message texts (spec section 10):
// reported into the kernel log and counted, never a crash of the process.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <source_location>

#include "kpreempt/log.h"

namespace kp {

struct task_struct;

// printk on the calling CPU's kernel (at the current virtual time).
void printk(log_level level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// "BUG: scheduling while atomic: comm/pid/0x%08x" (from schedule_debug).
void __schedule_bug(const task_struct& prev);
// __might_sleep / __might_resched: "BUG: sleeping function called from
// invalid context at file:line" and its detail lines.
void __might_sleep(const std::source_location& loc);
void __might_resched(const std::source_location& loc, unsigned offsets);
// WARN(): "WARNING: CPU: n PID: p at where" and the message line.
void kernel_warn(const char* where, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// A source path as the kernel prints it: relative to the project root.
const char* kbasename_path(const char* file);

}  // namespace kp
