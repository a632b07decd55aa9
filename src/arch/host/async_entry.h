// Asynchronous preemption of arbitrary code on x86-64 (Go's asyncPreempt
// method). A signal handler does no kernel work itself: async_redirect()
// edits the interrupted context so that, once the handler returns, the thread
// runs fn(arg) on the interrupted stack as if the interrupted instruction had
// called it, with every register saved around the call, and afterwards
// resumes exactly at the interrupted instruction.
//
// The redirect in three steps (src/arch/host/async_entry.cpp, the frame in
// src/arch/x86_64/async_entry.S):
//   1. the handler stores (pc, fn, arg) in a per-thread slot and sets the
//      context's rip to kp_async_entry; it writes nothing on the task stack,
//      because without SA_ONSTACK the kernel's signal frame (its xsave area
//      first) lies right below the red zone, where our frame will go;
//   2. after sigreturn, kp_async_entry builds the frame on the task stack
//      (skipping the 128-byte red zone), saves the GPRs, rflags and the
//      extended state, and calls kp_async_dispatch, which moves the slot into
//      the frame and calls fn(arg) with errno saved around it;
//   3. fn returns (perhaps much later and on another pthread: nothing in the
//      frame points into the signal frame or the sigaltstack), the state is
//      restored and `ret $128` resumes the interrupted instruction with rsp
//      exactly as it was.
//
// Contract for the signal handler that calls async_redirect:
//   - it interrupts code on the thread it runs on (SA_SIGINFO handler; on the
//     task's stack or on a sigaltstack, both work);
//   - the interrupted context is not itself a signal handler: the signals
//     that redirect block each other (sa_mask), so a handler is never the
//     interrupted code of another;
//   - it checks async_safe_pc() first (code outside the main program may hold
//     libc locks, and fn may switch to another task).
#pragma once

#include <ucontext.h>

#include <cstdint>

namespace kp {

using async_fn = void (*)(void* arg);

// How the extended CPU state is saved. auto_detect: xsave with every user
// component the OS enabled in XCR0 (less those behind XFD, i.e. AMX tile
// data), or fxsave where the CPU or OS lacks XSAVE. fxsave forces the
// fallback (x87 and SSE only), for testing it on machines that have XSAVE.
enum class async_save_mode { auto_detect, fxsave };

// Query the CPU (save method, mask and area size) and find the main
// program's executable ranges. Call before any signal that redirects is
// armed. Calling it again with the same mode changes nothing (each host
// machine may call it); changing the mode while a redirected call is in
// flight would restore that frame with the wrong method.
void async_entry_init(async_save_mode mode = async_save_mode::auto_detect);

// From inside a signal handler (uc is its third argument): make the
// interrupted context call fn(arg) on its own stack, then resume it exactly:
// general registers, rflags, x87/SSE/AVX(-512) state, MXCSR and the x87
// control word. fn is entered with the ABI's state: DF clear, an empty x87
// stack with the default control word, the default MXCSR, rsp 16-aligned.
// The 128-byte red zone below the interrupted rsp is preserved. The stack
// needs about 300 bytes plus the xsave area (a few KiB) plus fn's own depth
// below the interrupted rsp.
//
// Returns false, and changes nothing, when a redirect on this thread is
// still on its way (its handler returned but kp_async_entry has not taken it
// yet): the thread is about to call that fn anyway. Also false before
// async_entry_init().
bool async_redirect(ucontext_t* uc, async_fn fn, void* arg);

// Is the interrupted instruction in the main program's own executable text
// (not libc, ld.so, libstdc++, libgcc, a shared sanitizer runtime or the
// vDSO)? Async-signal-safe: reads only what async_entry_init() computed.
// False before async_entry_init().
bool async_safe_pc(const ucontext_t* uc);

std::uintptr_t interrupted_pc(const ucontext_t* uc);

}  // namespace kp
