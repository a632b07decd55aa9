// The asynchronous redirect (src/arch/host/async_entry.h) on the real CPU.
// A thread spins in assembly with known values in every register it can
// hold, in its red zone, its flags, its x87 stack and control words; the
// test thread signals it many times, each signal redirects it into a fn that
// clobbers all of that, and the spinner reports what it finds when told to
// stop. The sender waits until the spinner is back in its loop before each
// signal, so every signal lands in the spinner and every one is redirected:
// the counts are exact.
#include "arch/host/async_entry.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <linux/futex.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace {

enum class vector_level : std::uint64_t { sse = 0, avx = 1, avx512 = 2 };

// Shared with the assembly below: offsets are checked by static_asserts.
struct alignas(64) spin_ctl {
    std::uint64_t stop = 0;       // set nonzero to end the spin
    std::uint64_t progress = 0;   // loop iterations, stored by the spinner
    vector_level level = vector_level::sse;
    std::uint64_t in_flags = 0x2;
    std::uint64_t in_gpr[16] = {};  // by hardware number: rax rcx rdx rbx rsp rbp rsi rdi r8..r15
    std::uint64_t out_gpr[16] = {};
    std::uint64_t out_flags = 0;
    std::uint32_t in_mxcsr = 0x1f80;
    std::uint16_t in_fcw = 0x37f;
    std::uint16_t out_fcw = 0;
    std::uint32_t out_mxcsr = 0;
    std::uint32_t saved_mxcsr = 0;  // the caller's, put back on return
    std::uint16_t saved_fcw = 0;
    std::uint16_t pad[3] = {};
    alignas(64) std::uint8_t in_vec[32][64] = {};
    std::uint8_t out_vec[32][64] = {};
    std::uint64_t in_k[8] = {};
    std::uint64_t out_k[8] = {};
    std::uint64_t in_red[16] = {};  // the red zone, from -8(%rsp) down
    std::uint64_t out_red[16] = {};
    std::uint8_t in_x87[2][16] = {};  // 80-bit values
    std::uint8_t out_x87[2][16] = {};
    std::uint64_t rsp_in = 0;
    std::uint64_t rsp_out = 0;
};
static_assert(offsetof(spin_ctl, in_flags) == 24);
static_assert(offsetof(spin_ctl, in_gpr) == 32);
static_assert(offsetof(spin_ctl, out_gpr) == 160);
static_assert(offsetof(spin_ctl, out_flags) == 288);
static_assert(offsetof(spin_ctl, in_mxcsr) == 296);
static_assert(offsetof(spin_ctl, in_fcw) == 300);
static_assert(offsetof(spin_ctl, out_fcw) == 302);
static_assert(offsetof(spin_ctl, out_mxcsr) == 304);
static_assert(offsetof(spin_ctl, saved_mxcsr) == 308);
static_assert(offsetof(spin_ctl, saved_fcw) == 312);
static_assert(offsetof(spin_ctl, in_vec) == 320);
static_assert(offsetof(spin_ctl, out_vec) == 2368);
static_assert(offsetof(spin_ctl, in_k) == 4416);
static_assert(offsetof(spin_ctl, out_k) == 4480);
static_assert(offsetof(spin_ctl, in_red) == 4544);
static_assert(offsetof(spin_ctl, out_red) == 4672);
static_assert(offsetof(spin_ctl, in_x87) == 4800);
static_assert(offsetof(spin_ctl, out_x87) == 4832);
static_assert(offsetof(spin_ctl, rsp_in) == 4864);
static_assert(offsetof(spin_ctl, rsp_out) == 4872);

// What fn finds on entry (kp_test_probe).
struct abi_probe {
    std::uint64_t flags;
    std::uint32_t mxcsr;
    std::uint16_t fcw;
    std::uint16_t pad;
    std::uint64_t caller_rsp;     // rsp before the call: 16-aligned per the ABI
    std::uint8_t x87_env[28];     // fnstenv; the tag word at +8
};
static_assert(offsetof(abi_probe, caller_rsp) == 16);
static_assert(offsetof(abi_probe, x87_env) == 24);

}  // namespace

extern "C" {
void kp_test_spin(spin_ctl* ctl);
void kp_test_clobber(vector_level level);
void kp_test_probe(abi_probe* out);
}

// kp_test_spin: load everything from ctl, spin without touching the flags
// (lea, mov, jrcxz) until ctl->stop, then store everything back. rcx and
// r11 are the loop's scratch and counter; the other GPRs hold patterns, rdi
// the ctl pointer itself. The red zone is filled with mov only, after the
// pushq/popfq that loads the flags, and read back before the pushfq that
// stores them, since pushes write into it.
asm(R"(
	.text
	.globl	kp_test_spin
	.type	kp_test_spin, @function
kp_test_spin:
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	stmxcsr	308(%rdi)
	fnstcw	312(%rdi)
	movq	16(%rdi), %rax
	cmpq	$1, %rax
	jb	.Lspin_sse_in
	je	.Lspin_avx_in
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	vmovdqu64 320+64*\i(%rdi), %zmm\i
	.endr
	.irp i, 1,2,3,4,5,6,7
	kmovq	4416+8*\i(%rdi), %k\i
	.endr
	jmp	.Lspin_vec_done
.Lspin_avx_in:
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu	320+64*\i(%rdi), %ymm\i
	.endr
	jmp	.Lspin_vec_done
.Lspin_sse_in:
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu	320+64*\i(%rdi), %xmm\i
	.endr
.Lspin_vec_done:
	fldcw	300(%rdi)
	fldt	4800(%rdi)
	fldt	4816(%rdi)
	ldmxcsr	296(%rdi)
	pushq	24(%rdi)
	popfq
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movq	4544+8*\i(%rdi), %rax
	movq	%rax, -8-8*\i(%rsp)
	.endr
	movq	%rsp, 4864(%rdi)
	movq	32+8*0(%rdi), %rax
	movq	32+8*2(%rdi), %rdx
	movq	32+8*3(%rdi), %rbx
	movq	32+8*5(%rdi), %rbp
	movq	32+8*6(%rdi), %rsi
	movq	32+8*8(%rdi), %r8
	movq	32+8*9(%rdi), %r9
	movq	32+8*10(%rdi), %r10
	movq	32+8*12(%rdi), %r12
	movq	32+8*13(%rdi), %r13
	movq	32+8*14(%rdi), %r14
	movq	32+8*15(%rdi), %r15
	movl	$0, %r11d
.Lspin_loop:
	leaq	1(%r11), %r11
	movq	%r11, 8(%rdi)
	movq	(%rdi), %rcx
	jrcxz	.Lspin_loop
	movq	%rsp, 4872(%rdi)
	movq	%rax, 160+8*0(%rdi)
	movq	%rdx, 160+8*2(%rdi)
	movq	%rbx, 160+8*3(%rdi)
	movq	%rbp, 160+8*5(%rdi)
	movq	%rsi, 160+8*6(%rdi)
	movq	%rdi, 160+8*7(%rdi)
	movq	%r8, 160+8*8(%rdi)
	movq	%r9, 160+8*9(%rdi)
	movq	%r10, 160+8*10(%rdi)
	movq	%r12, 160+8*12(%rdi)
	movq	%r13, 160+8*13(%rdi)
	movq	%r14, 160+8*14(%rdi)
	movq	%r15, 160+8*15(%rdi)
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movq	-8-8*\i(%rsp), %rax
	movq	%rax, 4672+8*\i(%rdi)
	.endr
	pushfq
	popq	288(%rdi)
	cld
	fnstcw	302(%rdi)
	stmxcsr	304(%rdi)
	fstpt	4848(%rdi)
	fstpt	4832(%rdi)
	movq	16(%rdi), %rax
	cmpq	$1, %rax
	jb	.Lspin_sse_out
	je	.Lspin_avx_out
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	vmovdqu64 %zmm\i, 2368+64*\i(%rdi)
	.endr
	.irp i, 1,2,3,4,5,6,7
	kmovq	%k\i, 4480+8*\i(%rdi)
	.endr
	vzeroupper
	jmp	.Lspin_vec_out_done
.Lspin_avx_out:
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu	%ymm\i, 2368+64*\i(%rdi)
	.endr
	vzeroupper
	jmp	.Lspin_vec_out_done
.Lspin_sse_out:
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu	%xmm\i, 2368+64*\i(%rdi)
	.endr
.Lspin_vec_out_done:
	ldmxcsr	308(%rdi)
	fldcw	312(%rdi)
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.size	kp_test_spin, .-kp_test_spin

	.globl	kp_test_clobber
	.type	kp_test_clobber, @function
kp_test_clobber:
	cmpl	$1, %edi
	jb	.Lclob_sse
	je	.Lclob_avx
	vpternlogd $0xff, %zmm0, %zmm0, %zmm0
	.irp i, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	vmovdqa64 %zmm0, %zmm\i
	.endr
	.irp i, 1,2,3,4,5,6,7
	kxnorq	%k\i, %k\i, %k\i
	.endr
	jmp	.Lclob_rest
.Lclob_avx:
	vpcmpeqd %ymm0, %ymm0, %ymm0
	.irp i, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqa	%ymm0, %ymm\i
	.endr
	jmp	.Lclob_rest
.Lclob_sse:
	pcmpeqd	%xmm0, %xmm0
	.irp i, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqa	%xmm0, %xmm\i
	.endr
.Lclob_rest:
	fldpi
	fldpi
	fldpi
	fninit
	/* Left changed on purpose (an ABI breach): the trampoline must restore them. */
	pushq	$0x7f80
	ldmxcsr	(%rsp)
	movw	$0x0f7f, (%rsp)
	fldcw	(%rsp)
	addq	$8, %rsp
	std
	cld
	movq	$-1, %rax
	movq	%rax, %rcx
	movq	%rax, %rdx
	movq	%rax, %rsi
	movq	%rax, %rdi
	movq	%rax, %r8
	movq	%rax, %r9
	movq	%rax, %r10
	movq	%rax, %r11
	ret
	.size	kp_test_clobber, .-kp_test_clobber

	.globl	kp_test_probe
	.type	kp_test_probe, @function
kp_test_probe:
	pushfq
	popq	0(%rdi)
	stmxcsr	8(%rdi)
	fnstcw	12(%rdi)
	leaq	8(%rsp), %rax
	movq	%rax, 16(%rdi)
	fnstenv	24(%rdi)
	fldenv	24(%rdi)
	ret
	.size	kp_test_probe, .-kp_test_probe
)");

namespace {

constexpr int test_signal = SIGUSR2;
constexpr int rounds = 1000;
// Flags the spinner keeps: CF PF AF ZF SF DF OF, all set or all clear.
constexpr std::uint64_t kept_flags = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x400 | 0x800;
constexpr std::uint64_t flag_df = 0x400;

enum class on_altstack { no, yes };
enum class fn_kind { clobber, set_errno };

// What one run counts; the signal handler and fn reach it through g_run.
struct run_counts {
    vector_level level = vector_level::sse;
    fn_kind fn = fn_kind::clobber;
    std::atomic<int> handled{0};
    std::atomic<int> redirected{0};
    std::atomic<int> fn_calls{0};
    std::atomic<int> handler_on_altstack{0};
    std::atomic<int> abi_violations{0};
};
run_counts* g_run = nullptr;

// The sender sleeps on the counters (on a loaded machine a yielding sender
// takes the CPU that the signalled thread needs). FUTEX_WAKE is a plain
// system call: fine in a signal handler.
static_assert(sizeof(std::atomic<int>) == sizeof(int));

void wake(std::atomic<int>& word) {
    syscall(SYS_futex, reinterpret_cast<int*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

// Wait until word == value; the deadline only turns a broken redirect (a
// hung or dead thread) into a failure instead of a hang.
bool wait_for(std::atomic<int>& word, int value) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (int seen = word.load(); seen != value; seen = word.load()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        timespec tick{0, 10'000'000};
        syscall(SYS_futex, reinterpret_cast<int*>(&word), FUTEX_WAIT_PRIVATE, seen, &tick, nullptr, 0);
    }
    return true;
}

// Work with the FPU, the vector units (glibc's memset picks AVX2/AVX-512
// where it can) and libm, then clobber everything the ISA has.
void clobber_everything(vector_level level) {
    static std::array<unsigned char, 1 << 16> buffer;
    static int round = 0;
    std::memset(buffer.data(), ++round, buffer.size());
    volatile double x = 0.5;
    volatile long double y = 1.25L;
    for (int i = 0; i < 20; ++i) {
        x = std::sin(x) * 1.5 + std::sqrt(x * x + 1.0);
        y = y * 1.0001L + static_cast<long double>(x);
    }
    kp_test_clobber(level);
}

bool abi_state_ok(const abi_probe& p) {
    std::uint16_t tags = 0;
    std::memcpy(&tags, &p.x87_env[8], sizeof tags);
    return (p.flags & flag_df) == 0 && p.mxcsr == 0x1f80 && p.fcw == 0x37f && tags == 0xffff &&
           p.caller_rsp % 16 == 0;
}

void redirected_fn(void* arg) {
    abi_probe probe{};
    kp_test_probe(&probe);
    auto& run = *static_cast<run_counts*>(arg);
    if (!abi_state_ok(probe)) {
        run.abi_violations.fetch_add(1);
    }
    if (run.fn == fn_kind::set_errno) {
        errno = 4242;
    } else {
        clobber_everything(run.level);
    }
    run.fn_calls.fetch_add(1);  // last: the sender waits for it
    wake(run.fn_calls);
}

bool handler_on_altstack() {
    stack_t ss{};
    return sigaltstack(nullptr, &ss) == 0 && (ss.ss_flags & SS_ONSTACK) != 0;
}

void on_signal(int, siginfo_t*, void* ctx) {
    int saved_errno = errno;
    auto* uc = static_cast<ucontext_t*>(ctx);
    run_counts& run = *g_run;
    if (handler_on_altstack()) {
        run.handler_on_altstack.fetch_add(1);
    }
    if (kp::async_safe_pc(uc) && kp::async_redirect(uc, redirected_fn, &run)) {
        run.redirected.fetch_add(1);
    }
    run.handled.fetch_add(1);  // last: the sender waits for it
    wake(run.handled);
    errno = saved_errno;
}

class scoped_handler {
public:
    explicit scoped_handler(on_altstack alt) {
        struct sigaction sa {};
        sa.sa_sigaction = on_signal;
        sa.sa_flags = SA_SIGINFO | (alt == on_altstack::yes ? SA_ONSTACK : 0);
        sigemptyset(&sa.sa_mask);
        sigaction(test_signal, &sa, &old_);
    }
    ~scoped_handler() { sigaction(test_signal, &old_, nullptr); }
    scoped_handler(const scoped_handler&) = delete;
    scoped_handler& operator=(const scoped_handler&) = delete;

private:
    struct sigaction old_ {};
};

// An alternate signal stack for the calling thread while it lives.
class scoped_altstack {
public:
    explicit scoped_altstack(on_altstack alt) : memory_(alt == on_altstack::yes ? 1 << 16 : 0) {
        if (alt == on_altstack::yes) {
            stack_t ss{};
            ss.ss_sp = memory_.data();
            ss.ss_size = memory_.size();
            sigaltstack(&ss, &old_);
        }
    }
    ~scoped_altstack() {
        if (!memory_.empty()) {
            sigaltstack(&old_, nullptr);
        }
    }
    scoped_altstack(const scoped_altstack&) = delete;
    scoped_altstack& operator=(const scoped_altstack&) = delete;

private:
    std::vector<char> memory_;
    stack_t old_{};
};

// Wait for the spinner's progress word, which no one can wake us for. It
// moves within microseconds once the spinner runs: poll briefly, then nap
// so as not to take the CPU it needs on a loaded machine.
template <typename Pred>
bool wait_until(Pred done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (int polls = 0; !done(); ++polls) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        if (polls > 100) {
            std::this_thread::sleep_for(std::chrono::microseconds(20));
        }
    }
    return true;
}

// Signal `target` `rounds` times, each time once it is back in its loop
// (its progress word moves again after the previous fn finished).
bool send_rounds(run_counts& run, pthread_t target, std::uint64_t& progress_word) {
    std::atomic_ref<std::uint64_t> progress(progress_word);
    if (!wait_until([&] { return progress.load() > 0; })) {
        return false;
    }
    for (int i = 0; i < rounds; ++i) {
        pthread_kill(target, test_signal);
        if (!wait_for(run.handled, i + 1) || !wait_for(run.fn_calls, run.redirected.load())) {
            return false;
        }
        std::uint64_t seen = progress.load();
        if (!wait_until([&] { return progress.load() != seen; })) {
            return false;
        }
    }
    return true;
}

vector_level best_level() {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) {
        return vector_level::avx512;
    }
    return __builtin_cpu_supports("avx") ? vector_level::avx : vector_level::sse;
}

std::uint8_t pattern_byte(int reg, int byte) {
    return static_cast<std::uint8_t>((reg * 64 + byte) * 7 + 1);
}

// Distinct values everywhere; the flags all set or all clear.
void fill_patterns(spin_ctl& ctl, vector_level level, bool flags_set) {
    ctl.level = level;
    ctl.in_flags = 0x2 | (flags_set ? kept_flags : 0);
    for (int r = 0; r < 16; ++r) {
        ctl.in_gpr[r] = (0x0101010101010101ULL * static_cast<std::uint64_t>(r + 1)) ^ 0x8040201008040201ULL;
        ctl.in_red[r] = 0xfeed000000000000ULL + static_cast<std::uint64_t>(r);
    }
    ctl.in_gpr[7] = reinterpret_cast<std::uint64_t>(&ctl);
    for (int r = 0; r < 32; ++r) {
        for (int b = 0; b < 64; ++b) {
            ctl.in_vec[r][b] = pattern_byte(r, b);
        }
    }
    for (int k = 1; k < 8; ++k) {
        ctl.in_k[k] = 0x1111111111111111ULL * static_cast<std::uint64_t>(k);
    }
    ctl.in_mxcsr = 0x1f80 | 0x8000 | 0x4000;  // flush-to-zero, round up
    ctl.in_fcw = 0x0f7f;                      // round toward zero, 64-bit precision
    long double a = 3.25L, b = -1e300L;
    std::memcpy(ctl.in_x87[0], &a, 10);
    std::memcpy(ctl.in_x87[1], &b, 10);
}

struct run_options {
    vector_level level = vector_level::sse;
    on_altstack alt = on_altstack::no;
    bool flags_set = true;
};

// One spinner run under `rounds` redirects; fills ctl's out fields.
void run_spinner(const run_options& opt, spin_ctl& ctl, run_counts& run) {
    fill_patterns(ctl, opt.level, opt.flags_set);
    run.level = opt.level;
    g_run = &run;
    scoped_handler handler(opt.alt);
    std::thread target([&] {
        scoped_altstack alt(opt.alt);
        kp_test_spin(&ctl);
    });
    EXPECT_TRUE(send_rounds(run, target.native_handle(), ctl.progress));
    std::atomic_ref<std::uint64_t>(ctl.stop).store(1);
    target.join();
    g_run = nullptr;
}

class AsyncEntry : public ::testing::Test {
protected:
    void SetUp() override { kp::async_entry_init(); }
    void TearDown() override { kp::async_entry_init(); }
};

void expect_every_round_redirected(const run_counts& run) {
    EXPECT_EQ(run.handled.load(), rounds);
    EXPECT_EQ(run.redirected.load(), rounds);
    EXPECT_EQ(run.fn_calls.load(), rounds);
}

void expect_gprs_kept(const spin_ctl& ctl) {
    for (int r : {0, 2, 3, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15}) {
        EXPECT_EQ(ctl.out_gpr[r], ctl.in_gpr[r]) << "register number " << r;
    }
    EXPECT_EQ(ctl.rsp_out, ctl.rsp_in);
    for (int i = 0; i < 16; ++i) {
        EXPECT_EQ(ctl.out_red[i], ctl.in_red[i]) << "red zone at -" << 8 + 8 * i;
    }
}

void expect_vectors_kept(const spin_ctl& ctl, vector_level level) {
    int regs = level == vector_level::avx512 ? 32 : 16;
    std::size_t bytes = level == vector_level::avx512 ? 64 : level == vector_level::avx ? 32 : 16;
    for (int r = 0; r < regs; ++r) {
        EXPECT_EQ(std::memcmp(ctl.out_vec[r], ctl.in_vec[r], bytes), 0) << "vector register " << r;
    }
    if (level == vector_level::avx512) {
        for (int k = 1; k < 8; ++k) {
            EXPECT_EQ(ctl.out_k[k], ctl.in_k[k]) << "k" << k;
        }
    }
}

void expect_fpu_kept(const spin_ctl& ctl) {
    EXPECT_EQ(ctl.out_mxcsr, ctl.in_mxcsr);
    EXPECT_EQ(ctl.out_fcw, ctl.in_fcw);
    EXPECT_EQ(std::memcmp(ctl.out_x87[0], ctl.in_x87[0], 10), 0);
    EXPECT_EQ(std::memcmp(ctl.out_x87[1], ctl.in_x87[1], 10), 0);
}

TEST_F(AsyncEntry, GeneralRegistersRspAndRedZoneSurvive) {
    auto ctl = std::make_unique<spin_ctl>();
    run_counts run;
    run_spinner({.level = best_level()}, *ctl, run);
    expect_every_round_redirected(run);
    expect_gprs_kept(*ctl);
}

TEST_F(AsyncEntry, VectorAndX87StateSurvive) {
    auto ctl = std::make_unique<spin_ctl>();
    run_counts run;
    run_spinner({.level = best_level()}, *ctl, run);
    expect_every_round_redirected(run);
    expect_vectors_kept(*ctl, best_level());
    expect_fpu_kept(*ctl);
}

TEST_F(AsyncEntry, FlagsSurviveSetAndClear) {
    for (bool set : {true, false}) {
        auto ctl = std::make_unique<spin_ctl>();
        run_counts run;
        run_spinner({.level = vector_level::sse, .flags_set = set}, *ctl, run);
        expect_every_round_redirected(run);
        EXPECT_EQ(ctl->out_flags & kept_flags, ctl->in_flags & kept_flags) << "flags set: " << set;
    }
}

// The interrupted code runs with DF set, another rounding mode, FTZ, two
// values on the x87 stack: fn still gets the ABI's state.
TEST_F(AsyncEntry, FnIsCalledWithTheAbiState) {
    auto ctl = std::make_unique<spin_ctl>();
    run_counts run;
    run_spinner({.level = best_level()}, *ctl, run);
    expect_every_round_redirected(run);
    EXPECT_EQ(run.abi_violations.load(), 0);
}

// With SA_ONSTACK the handler runs on the sigaltstack, without it right
// below the red zone on the task stack (where the trampoline's frame will go
// once the handler has returned): both must work.
TEST_F(AsyncEntry, WorksWithAndWithoutSigaltstack) {
    for (on_altstack alt : {on_altstack::yes, on_altstack::no}) {
        auto ctl = std::make_unique<spin_ctl>();
        run_counts run;
        run_spinner({.level = best_level(), .alt = alt}, *ctl, run);
        expect_every_round_redirected(run);
        EXPECT_EQ(run.handler_on_altstack.load(), alt == on_altstack::yes ? rounds : 0);
        expect_gprs_kept(*ctl);
        expect_vectors_kept(*ctl, best_level());
        expect_fpu_kept(*ctl);
    }
}

TEST_F(AsyncEntry, FxsaveFallbackKeepsSseAndX87State) {
    kp::async_entry_init(kp::async_save_mode::fxsave);
    auto ctl = std::make_unique<spin_ctl>();
    run_counts run;
    run_spinner({.level = vector_level::sse}, *ctl, run);
    expect_every_round_redirected(run);
    expect_gprs_kept(*ctl);
    expect_vectors_kept(*ctl, vector_level::sse);
    expect_fpu_kept(*ctl);
    EXPECT_EQ(run.abi_violations.load(), 0);
}

// A C++ spinner that watches its errno while fn sets errno. It reads errno
// through an address taken once, so the loop never enters libc (every
// signal lands in the main program and is redirected).
void errno_spin(std::uint64_t& stop, std::uint64_t& progress_word, std::atomic<int>& changed) {
    volatile int* my_errno = &errno;
    *my_errno = 42;
    std::atomic_ref<std::uint64_t> done(stop);
    std::atomic_ref<std::uint64_t> progress(progress_word);
    while (done.load() == 0) {
        progress.store(progress.load(std::memory_order_relaxed) + 1);
        if (*my_errno != 42) {
            changed.fetch_add(1);
        }
    }
}

TEST_F(AsyncEntry, ErrnoOfTheInterruptedCodeSurvives) {
    std::uint64_t stop = 0, progress = 0;
    std::atomic<int> changed{0};
    run_counts run;
    run.fn = fn_kind::set_errno;
    g_run = &run;
    {
        scoped_handler handler(on_altstack::no);
        std::thread target([&] { errno_spin(stop, progress, changed); });
        EXPECT_TRUE(send_rounds(run, target.native_handle(), progress));
        std::atomic_ref<std::uint64_t>(stop).store(1);
        target.join();
    }
    g_run = nullptr;
    expect_every_round_redirected(run);
    EXPECT_EQ(changed.load(), 0);
}

// A second redirect before the first was taken is refused: the first has
// not saved its pc yet. Interrupts this thread in libc (pthread_kill's
// return) on purpose: fn does not switch stacks, so that is harmless here.
std::atomic<int> g_first{-1}, g_second{-1}, g_count_calls{0};

void count_fn(void*) {
    g_count_calls.fetch_add(1);
}

void on_signal_redirect_twice(int, siginfo_t*, void* ctx) {
    auto* uc = static_cast<ucontext_t*>(ctx);
    g_first = kp::async_redirect(uc, count_fn, nullptr) ? 1 : 0;
    g_second = kp::async_redirect(uc, count_fn, nullptr) ? 1 : 0;
}

TEST_F(AsyncEntry, SecondRedirectBeforeTheFirstIsTakenIsRefused) {
    struct sigaction sa {}, old {};
    sa.sa_sigaction = on_signal_redirect_twice;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(test_signal, &sa, &old);
    g_count_calls = 0;
    // The second round shows that the slot was released once taken.
    for (int round = 1; round <= 2; ++round) {
        g_first = -1;
        g_second = -1;
        pthread_kill(pthread_self(), test_signal);
        EXPECT_EQ(g_first.load(), 1);
        EXPECT_EQ(g_second.load(), 0);
        EXPECT_EQ(g_count_calls.load(), round);
    }
    sigaction(test_signal, &old, nullptr);
}

// The trampoline's CFI describes its frame as a signal frame: an unwinder
// started inside fn walks through it to the exact interrupted pc.
std::atomic<std::uintptr_t> g_interrupted_pc{0};
std::atomic<int> g_pc_in_backtrace{-1};

void backtrace_fn(void*) {
    void* frames[32];
    int n = backtrace(frames, 32);
    int found = 0;
    for (int i = 0; i < n; ++i) {
        found |= reinterpret_cast<std::uintptr_t>(frames[i]) == g_interrupted_pc.load() ? 1 : 0;
    }
    g_pc_in_backtrace = found;
}

void on_signal_backtrace(int, siginfo_t*, void* ctx) {
    auto* uc = static_cast<ucontext_t*>(ctx);
    g_interrupted_pc = kp::interrupted_pc(uc);
    kp::async_redirect(uc, backtrace_fn, nullptr);
}

TEST_F(AsyncEntry, UnwindersSeeThroughTheTrampoline) {
    struct sigaction sa {}, old {};
    sa.sa_sigaction = on_signal_backtrace;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(test_signal, &sa, &old);
    g_pc_in_backtrace = -1;
    pthread_kill(pthread_self(), test_signal);
    sigaction(test_signal, &old, nullptr);
    EXPECT_EQ(g_pc_in_backtrace.load(), 1);
}

ucontext_t context_at(std::uintptr_t pc) {
    ucontext_t uc{};
    uc.uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(pc);
    return uc;
}

std::uintptr_t address_of(void (*fn)()) {
    return reinterpret_cast<std::uintptr_t>(fn);
}

TEST_F(AsyncEntry, SafePcIsTheMainProgramsTextOnly) {
    auto in_main = [](std::uintptr_t pc) {
        ucontext_t uc = context_at(pc);
        EXPECT_EQ(kp::interrupted_pc(&uc), pc);
        return kp::async_safe_pc(&uc);
    };
    EXPECT_TRUE(in_main(reinterpret_cast<std::uintptr_t>(&kp_test_spin) + 4));
    EXPECT_TRUE(in_main(reinterpret_cast<std::uintptr_t>(&redirected_fn)));
    EXPECT_TRUE(in_main(reinterpret_cast<std::uintptr_t>(&kp::async_redirect)));
    EXPECT_FALSE(in_main(reinterpret_cast<std::uintptr_t>(&::getpid)));      // libc
    EXPECT_FALSE(in_main(reinterpret_cast<std::uintptr_t>(dlsym(RTLD_DEFAULT, "memcpy"))));
    EXPECT_FALSE(in_main(address_of(&std::terminate)));                     // libstdc++
    EXPECT_FALSE(in_main(reinterpret_cast<std::uintptr_t>(dlsym(RTLD_DEFAULT, "_Unwind_Resume"))));
    EXPECT_FALSE(in_main(getauxval(AT_SYSINFO_EHDR) + 0x800));               // the vDSO
    EXPECT_FALSE(in_main(0));
}

}  // namespace
