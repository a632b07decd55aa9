// Signals, reduced to what sleeping needs: a pending signal ends an
// interruptible sleep (signal_wake_up) and is consumed at the next return to
// user mode (arch_do_signal_or_restart, with no handler to run here).
#pragma once

namespace kp {

struct task_struct;

// send_sig: mark pending and wake the task if it sleeps interruptibly.
void send_sig(task_struct& p);
bool signal_pending(const task_struct& p);
void flush_signals(task_struct& p);

}  // namespace kp
