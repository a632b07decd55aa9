/*
 * kp_stack_switch(void **save_sp, void *new_sp)
 *
 * The one machine-specific instruction sequence of a context switch, as
 * Linux's __switch_to_asm: push the callee-saved registers (System V x86-64:
 * rbx, rbp, r12-r15) and the SSE/x87 control words on the current stack,
 * store the stack pointer through save_sp, load new_sp, pop the same frame
 * and return into whatever the new stack was doing. Caller-saved registers
 * need no saving: every switch is a function call.
 *
 * Frame, from the saved stack pointer upwards:
 *   +0 unused  +8 mxcsr  +12 x87 cw  +16 r15 +24 r14 +32 r13 +40 r12
 *   +48 rbx +56 rbp +64 return address
 * src/arch/stack.cpp builds the same frame for a stack never run.
 */
	.text
	.globl	kp_stack_switch
	.type	kp_stack_switch, @function
kp_stack_switch:
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$16, %rsp
	stmxcsr	8(%rsp)
	fnstcw	12(%rsp)
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	ldmxcsr	8(%rsp)
	fldcw	12(%rsp)
	addq	$16, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.cfi_endproc
	.size	kp_stack_switch, .-kp_stack_switch

/*
 * First return of a new stack lands here with the entry function in r13 and
 * its argument in r12 (placed by stack_init). The entry never returns.
 */
	.globl	kp_stack_trampoline
	.type	kp_stack_trampoline, @function
kp_stack_trampoline:
	.cfi_startproc
	.cfi_undefined rip
	movq	%r12, %rdi
	callq	*%r13
	ud2
	.cfi_endproc
	.size	kp_stack_trampoline, .-kp_stack_trampoline

	.section .note.GNU-stack,"",@progbits
