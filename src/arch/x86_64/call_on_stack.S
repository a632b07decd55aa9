/*
 * kp_call_on_stack(void *top, void (*fn)(void *), void *arg, void **save_sp)
 *
 * Call fn(arg) with the stack pointer at top (16-byte aligned), then return
 * on the calling stack: Linux's call_on_stack (arch/x86/include/asm/
 * irq_stack.h), which runs hardirq handlers and softirqs on the per-CPU irq
 * stack. The calling stack's pointer is kept in rbp, as Linux keeps it in a
 * callee-saved register, and also stored through save_sp (so that the frames
 * left on the calling stack can be found while fn runs, e.g. to scan them
 * for leaks when a machine is torn down with a CPU parked on the irq stack).
 *
 * Unwinding: the CFA is defined on rbp for the whole switched part, so
 * DWARF unwinders (gdb, C++ exceptions) walk from fn's frames through this
 * one back to the caller on the old stack; fn's frame-pointer chain links
 * to the same rbp, for frame-pointer walkers.
 */
	.text
	.globl	kp_call_on_stack
	.type	kp_call_on_stack, @function
kp_call_on_stack:
	.cfi_startproc
	pushq	%rbp
	.cfi_def_cfa_offset 16
	.cfi_offset rbp, -16
	movq	%rsp, %rbp
	.cfi_def_cfa_register rbp
	movq	%rsp, (%rcx)
	movq	%rdi, %rsp
	movq	%rdx, %rdi
	callq	*%rsi
	movq	%rbp, %rsp
	.cfi_def_cfa_register rsp
	popq	%rbp
	.cfi_restore rbp
	.cfi_def_cfa_offset 8
	ret
	.cfi_endproc
	.size	kp_call_on_stack, .-kp_call_on_stack

	.section .note.GNU-stack,"",@progbits
