/*
 * kp_async_entry: where a redirected context resumes after sigreturn (see
 * src/arch/host/async_entry.h). It is entered by no call: every register,
 * rflags and rsp (= R below) hold the interrupted values, and the
 * interrupted pc waits in a per-thread slot that kp_async_dispatch takes.
 *
 * Frame on the interrupted stack, R = interrupted rsp:
 *   [R-128, R)   red zone, never touched (a leaf may keep data there)
 *   R-136        resume pc, written by kp_async_dispatch from the slot
 *   R-144        rflags
 *   R-152..R-264 rax rbx rcx rdx rsi rdi rbp r8 ... r15 (push order)
 *   below        the xsave (or fxsave) area, 64-aligned, kp_async_area_size
 *                bytes, then fn's frames (call site 16-aligned)
 * rbx holds R-264 across the call: callee-saved, so it survives even if fn
 * switches stacks and comes back on another thread. The epilogue pops the
 * frame and `ret $128` pops the pc at R-136 and skips the red zone: rsp = R.
 *
 * Instructions before the GPRs are saved (lea, pushfq) leave the arithmetic
 * flags alone; the red zone is skipped with lea for that reason.
 *
 * The CFI describes the frame like a signal frame (.cfi_signal_frame: the
 * saved pc is the instruction to resume, not a return address), so
 * debuggers and unwinders see through it from inside fn. Until
 * kp_async_dispatch has run, the pc slot is stale.
 *
 * Not compatible with a user shadow stack (CET): `ret $128` pops a pc that
 * no call pushed, as kp_stack_switch does.
 */
	.text
	.globl	kp_async_entry
	.hidden	kp_async_entry
	.type	kp_async_entry, @function
	.p2align 4
kp_async_entry:
	.cfi_startproc simple
	.cfi_signal_frame
	.cfi_def_cfa %rsp, 0
	.cfi_offset %rip, -136
	leaq	-136(%rsp), %rsp
	.cfi_adjust_cfa_offset 136
	pushfq
	.cfi_adjust_cfa_offset 8
	.cfi_offset 49, -144		/* rflags */
	pushq	%rax
	.cfi_adjust_cfa_offset 8
	.cfi_offset %rax, -152
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	.cfi_offset %rbx, -160
	pushq	%rcx
	.cfi_adjust_cfa_offset 8
	.cfi_offset %rcx, -168
	pushq	%rdx
	.cfi_adjust_cfa_offset 8
	.cfi_offset %rdx, -176
	pushq	%rsi
	.cfi_adjust_cfa_offset 8
	.cfi_offset %rsi, -184
	pushq	%rdi
	.cfi_adjust_cfa_offset 8
	.cfi_offset %rdi, -192
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_offset %rbp, -200
	pushq	%r8
	.cfi_adjust_cfa_offset 8
	.cfi_offset %r8, -208
	pushq	%r9
	.cfi_adjust_cfa_offset 8
	.cfi_offset %r9, -216
	pushq	%r10
	.cfi_adjust_cfa_offset 8
	.cfi_offset %r10, -224
	pushq	%r11
	.cfi_adjust_cfa_offset 8
	.cfi_offset %r11, -232
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	.cfi_offset %r12, -240
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	.cfi_offset %r13, -248
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	.cfi_offset %r14, -256
	pushq	%r15
	.cfi_adjust_cfa_offset 8
	.cfi_offset %r15, -264
	movq	%rsp, %rbx
	.cfi_def_cfa_register %rbx

	/* The extended state: mode 2 xsave, 1 fxsave, 0 not initialized. */
	subq	kp_async_area_size(%rip), %rsp
	andq	$-64, %rsp
	movl	kp_async_mode(%rip), %eax
	cmpl	$2, %eax
	jne	1f
	/*
	 * xsave writes only XSTATE_BV of the 64-byte header; xrstor faults
	 * unless the rest (XCOMP_BV, reserved) is zero, and components left
	 * out of the mask must read as "init".
	 */
	xorl	%eax, %eax
	movq	%rax, 512(%rsp)
	movq	%rax, 520(%rsp)
	movq	%rax, 528(%rsp)
	movq	%rax, 536(%rsp)
	movq	%rax, 544(%rsp)
	movq	%rax, 552(%rsp)
	movq	%rax, 560(%rsp)
	movq	%rax, 568(%rsp)
	movl	kp_async_xsave_mask(%rip), %eax
	movl	kp_async_xsave_mask+4(%rip), %edx
	xsave64	(%rsp)
	jmp	2f
1:	cmpl	$1, %eax
	jne	9f
	fxsave64 (%rsp)
2:
	/*
	 * fn is called as a function: empty x87 stack, default control words
	 * (the interrupted code may run with another rounding mode or
	 * unmasked exceptions), DF clear. vzeroupper (only when the upper
	 * halves were saved) spares fn the AVX-SSE transition penalty.
	 */
	fninit
	ldmxcsr	.Lmxcsr_default(%rip)
	cmpl	$0, kp_async_vzeroupper(%rip)
	je	3f
	vzeroupper
3:	cld
	leaq	128(%rbx), %rdi		/* the resume pc slot, R-136 */
	call	kp_async_dispatch

	movl	kp_async_mode(%rip), %eax
	cmpl	$2, %eax
	jne	4f
	movl	kp_async_xsave_mask(%rip), %eax
	movl	kp_async_xsave_mask+4(%rip), %edx
	xrstor64 (%rsp)
	jmp	5f
4:	fxrstor64 (%rsp)
5:	.cfi_remember_state
	movq	%rbx, %rsp
	.cfi_def_cfa_register %rsp
	popq	%r15
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r15
	popq	%r14
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r14
	popq	%r13
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r13
	popq	%r12
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r12
	popq	%r11
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r11
	popq	%r10
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r10
	popq	%r9
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r9
	popq	%r8
	.cfi_adjust_cfa_offset -8
	.cfi_restore %r8
	popq	%rbp
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbp
	popq	%rdi
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rdi
	popq	%rsi
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rsi
	popq	%rdx
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rdx
	popq	%rcx
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rcx
	popq	%rbx
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rbx
	popq	%rax
	.cfi_adjust_cfa_offset -8
	.cfi_restore %rax
	popfq
	.cfi_adjust_cfa_offset -8
	ret	$128
	.cfi_restore_state
	/* Redirected before async_entry_init(): async_redirect refuses that. */
9:	ud2
	.cfi_endproc
	.size	kp_async_entry, .-kp_async_entry

	.section .rodata
	.p2align 2
.Lmxcsr_default:
	.long	0x1f80

	.section .note.GNU-stack,"",@progbits
