#include "arch/fault.h"

#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <mutex>

#include "arch/stack.h"

namespace kp {

namespace {

// The handlers installed before ours (the default action, or a sanitizer's),
// for the faults that are not guard-page hits. Written once, before ours is
// installed; read by the handler only.
struct sigaction previous_segv;
struct sigaction previous_bus;
std::once_flag handler_installed;

struct sigaction& previous_for(int sig) { return sig == SIGBUS ? previous_bus : previous_segv; }

// Text built without allocating or locking, written with one write(2): all
// that a handler on an exhausted stack, in a process that may hold malloc's
// lock, can do.
class report_text {
public:
    report_text& str(const char* s) {
        while (*s != '\0') put(*s++);
        return *this;
    }
    // 16 hex digits, as the kernel prints an address.
    report_text& hex(std::uintptr_t v) {
        for (int shift = 60; shift >= 0; shift -= 4) put("0123456789abcdef"[(v >> shift) & 0xf]);
        return *this;
    }
    report_text& dec(std::uintmax_t v) {
        char digits[24];
        int n = 0;
        do {
            digits[n++] = static_cast<char>('0' + v % 10);
            v /= 10;
        } while (v != 0);
        while (n > 0) put(digits[--n]);
        return *this;
    }
    report_text& end_line() {
        put('\n');
        return *this;
    }
    void write_to_stderr() const {
        std::size_t done = 0;
        while (done < len_) {
            const ssize_t w = ::write(STDERR_FILENO, buf_ + done, len_ - done);
            if (w > 0) done += static_cast<std::size_t>(w);
            else if (w < 0 && errno == EINTR) continue;
            else return;
        }
    }

private:
    void put(char c) {
        if (len_ < sizeof buf_) buf_[len_++] = c;
    }
    char buf_[512];
    std::size_t len_ = 0;
};

// A task ran into its stack's guard page, or interrupt handlers into their
// CPU's irq stack's: Linux's handle_stack_overflow report (its first and
// last lines, with stack_type_name(): "TASK", "IRQ"), the owner by name
// between them, then the end of the process. Nothing on the overflowed
// stack can be resumed and no frame of it can be unwound; the kernel panics
// for the same reason when the stack is its own. addr is the fault's
// address, or the stack pointer when the kernel gave none (see
// guard_page_hit).
[[noreturn]] void stack_overflow(const guard_hit& hit, std::uintptr_t addr) {
    const bool irq = hit.kind == stack_kind::irq;
    const char* type = irq ? "IRQ" : "TASK";
    const std::uintmax_t kib = (hit.top - hit.bottom) / 1024;
    report_text r;
    r.str("BUG: ").str(type).str(" stack guard page was hit at ").hex(addr);
    r.str(" (stack is ").hex(hit.bottom).str("..").hex(hit.top).str(")").end_line();
    if (irq) {
        r.str("kpreempt: interrupt handlers overflowed the ").dec(kib).str(" KiB irq stack of CPU ");
        r.dec(static_cast<std::uintmax_t>(hit.cpu)).end_line();
    } else {
        r.str("kpreempt: task ").str(hit.comm).str("[").dec(static_cast<std::uintmax_t>(hit.pid));
        r.str("] overflowed its ").dec(kib).str(" KiB stack").end_line();
    }
    r.str("Kernel panic - not syncing: ").str(type).str(" stack guard page was hit").end_line();
    r.write_to_stderr();
    std::abort();  // async-signal-safe; SIGABRT, exit status 134 in a shell
}

// Not ours: what would have happened without us. A previous handler is
// called as the kernel would have called it (on the same signal stack). For
// the default action, restore it and return: a fault re-executes its
// instruction and dies of it (core dump, "Segmentation fault"). A signal
// sent by kill(), or forced by the kernel without a fault (SI_KERNEL: a
// signal frame it could not push), may have no instruction to repeat and is
// raised again.
void pass_on(int sig, siginfo_t* info, void* uc) {
    const struct sigaction& prev = previous_for(sig);
    if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
        if ((prev.sa_flags & SA_SIGINFO) != 0) prev.sa_sigaction(sig, info, uc);
        else prev.sa_handler(sig);
        return;
    }
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, nullptr);
    if (info->si_code <= 0 || info->si_code == SI_KERNEL) raise(sig);  // delivered when we return
}

// How far above a guard page a signal frame may fail to fit: two of the
// kernel's frames (AT_MINSIGSTKSZ, the xsave area included) and the red zone.
// Set before the handler is installed.
std::size_t signal_frame_slack = 0;

// Which guard page, if any, this fault hit. A fault on an access gives the
// address (si_addr). A signal whose frame the kernel could not push below
// the interrupted stack pointer (a handler without SA_ONSTACK, such as a
// timer's, arriving in the stack's last bytes) comes back as a SIGSEGV from
// the kernel with no address: then the stack pointer tells.
bool guard_page_hit(int sig, const siginfo_t* info, const ucontext_t* uc, guard_hit& hit,
                    std::uintptr_t& addr) {
    if (info->si_code <= 0) return false;  // sent by kill(): no fault at all
    if (sig == SIGSEGV && info->si_code == SI_KERNEL) {
        addr = static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
        return stack_guard_lookup(reinterpret_cast<const void*>(addr), hit, signal_frame_slack);
    }
    addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
    return stack_guard_lookup(info->si_addr, hit);
}

void on_fault(int sig, siginfo_t* info, void* uc) {
    const int saved_errno = errno;
    guard_hit hit;
    std::uintptr_t addr = 0;
    if (guard_page_hit(sig, info, static_cast<const ucontext_t*>(uc), hit, addr)) stack_overflow(hit, addr);
    pass_on(sig, info, uc);
    errno = saved_errno;
}

// Once per process, after any sanitizer's handler (installed before main):
// ours sees every fault first and passes on the ones that are not its own.
// A failure leaves faults as they were (a diagnostic, not a reason to stop).
void install_handler() noexcept {
    const long frame = sysconf(_SC_MINSIGSTKSZ);
    signal_frame_slack = 2 * static_cast<std::size_t>(frame > 0 ? frame : MINSIGSTKSZ) + 128;
    struct sigaction sa {};
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigfillset(&sa.sa_mask);  // no tick or IPI handler in the middle of the report
    for (int sig : {SIGSEGV, SIGBUS})
        if (sigaction(sig, nullptr, &previous_for(sig)) == 0) sigaction(sig, &sa, nullptr);
}

// The calling thread's alternate signal stack, if we had to give it one;
// unmapped when the thread ends. A thread that already has one keeps it
// (AddressSanitizer gives every thread one, and frees it itself).
class thread_altstack {
public:
    thread_altstack() = default;
    thread_altstack(const thread_altstack&) = delete;
    thread_altstack& operator=(const thread_altstack&) = delete;
    ~thread_altstack() {
        if (mem_ == nullptr) return;
        stack_t cur{};
        if (sigaltstack(nullptr, &cur) == 0 && cur.ss_sp == mem_) {
            stack_t off{};
            off.ss_flags = SS_DISABLE;
            sigaltstack(&off, nullptr);
        }
        munmap(mem_, size_);
    }

    bool checked() const { return checked_; }

    // Without one, an overflow on this thread dies of a bare SIGSEGV (the
    // kernel cannot push the signal frame): not fatal to set up, so errors
    // are only remembered as "checked".
    void ensure() {
        checked_ = true;
        stack_t cur{};
        if (sigaltstack(nullptr, &cur) == 0 && (cur.ss_flags & SS_DISABLE) == 0) return;
        size_ = std::max<std::size_t>(64 * 1024, static_cast<std::size_t>(SIGSTKSZ));
        void* m = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) return;
        stack_t ss{};
        ss.ss_sp = m;
        ss.ss_size = size_;
        if (sigaltstack(&ss, nullptr) != 0) {
            munmap(m, size_);
            return;
        }
        mem_ = m;
    }

private:
    bool checked_ = false;
    void* mem_ = nullptr;
    std::size_t size_ = 0;
};

thread_local thread_altstack this_thread_altstack;

}  // namespace

void fault_handler_install_this_thread() noexcept {
    thread_altstack& alt = this_thread_altstack;
    if (alt.checked()) [[likely]]
        return;
    std::call_once(handler_installed, install_handler);
    alt.ensure();
}

}  // namespace kp
