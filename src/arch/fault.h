// Faults on task stacks (arch/x86/kernel/traps.c: handle_stack_overflow).
// A task that runs off the bottom of its stack hits the stack's PROT_NONE
// guard page; the process's SIGSEGV handler finds the task by the fault
// address (stack.h's guard-page registry; by the stack pointer when a signal
// frame did not fit and the kernel gave no address) and reports it with the
// task's name before ending the process, instead of a bare "Segmentation
// fault".
// Other faults go on to the handler that was installed before (the default
// action, or AddressSanitizer's report). Both machines run tasks on guarded
// stacks, so this is arch code shared by both; see docs/faults.md.
#pragma once

namespace kp {

// Install the fault handler for the process (the first call only) and give
// the calling thread an alternate signal stack if it has none: the handler
// cannot run on the stack that just overflowed. Idempotent and cheap after a
// thread's first call (one thread-local test). Every thread that runs tasks
// must have called it before a task overflows there: the task and idle
// entries call it (kernel/fork.cpp), and a machine may call it where its
// threads start.
void fault_handler_install_this_thread() noexcept;

}  // namespace kp
