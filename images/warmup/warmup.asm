; =============================================================================
; warmup — the interpreter's warm-up program (src/machine/warm-up.ts runs it
; once when a VM's thread starts, before the guest).
;
; A JavaScript engine compiles the interpreter's loop only once it has seen it
; run, and compiles each operation for the kinds of values it saw there: an
; instruction form met for the first time after that, or an operand of a kind
; not seen before (a negative number, a page-crossing access, a page fault),
; throws the compiled loop away and the guest runs at a tenth of the speed
; until it is compiled again. This program meets them all first: every form
; the decoded-instruction cache runs from records (src/cpu/decoded-format.ts;
; test/machine/warm-up.test.ts checks that each one is reached), with operands
; that take each path (aligned, unaligned and page-crossing accesses, every
; ALU operation and shift followed by every condition, taken and not), the
; commoner instructions of the generic path, a software interrupt, and in its
; second pass the same with paging on and a page fault per round.
;
; Flat 32-bit code at 1 MiB, loaded into a 2 MiB machine already in protected
; mode (boot-state.ts: code selector 0x10, data 0x18), interrupts off. It ends
; with HLT, EAX holding a checksum of everything it computed (flags that
; Intel leaves undefined feed it too, so it is the emulator's own: the tests
; compare the interpreter with and without its cache and the block compiler).
;
; Build: npm run images (writes warmup.bin and src/machine/warm-up-program.ts)
; =============================================================================

        org 0x100000
        bits 32

ROUNDS          equ 4               ; rounds per pass (two passes): enough for both ways of each branch
DATA            equ 0x180000        ; four pages of data
STACK_TOP       equ 0x1e0000
IDT             equ 0x1f0000
PAGE_DIR        equ 0x1f1000
PAGE_TABLE      equ 0x1f2000
CODE_SEL        equ 0x10
FAULT_PAGE      equ DATA + 0x3000   ; made not present once per round in pass 2

start:
        mov esp, STACK_TOP
        cld
        fninit

        ; Every vector to `fatal`, then #PF (14) and INT 30h to their handlers.
        mov edi, IDT
        mov ecx, 256
.gate:  mov eax, fatal
        call set_gate
        add edi, 8
        loop .gate
        mov edi, IDT + 14 * 8
        mov eax, page_fault
        call set_gate
        mov edi, IDT + 0x30 * 8
        mov eax, soft_int
        call set_gate
        lidt [idt_pointer]

        ; Page tables mapping the 2 MiB one to one (used in pass 2).
        mov dword [PAGE_DIR], PAGE_TABLE | 3
        xor eax, eax
        mov edi, PAGE_TABLE
.pte:   lea edx, [eax * 4]
        shl edx, 10
        or edx, 3
        mov [edi + eax * 4], edx
        inc eax
        cmp eax, 512
        jb .pte

        mov dword [seed], 0x2545f491
        call pass

        mov eax, PAGE_DIR
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        mov byte [paging], 1
        call pass

        mov eax, [checksum]
        hlt

; An interrupt gate in [EDI] to the handler at EAX (ECX kept).
set_gate:
        mov [edi], ax
        mov word [edi + 2], CODE_SEL
        mov word [edi + 4], 0x8e00
        shr eax, 16
        mov [edi + 6], ax
        ret

fatal:
        mov eax, 0xdead
        hlt
        jmp fatal

; #PF: map the page and go back to the instruction, which runs again.
page_fault:
        push eax
        mov eax, cr2
        shr eax, 12
        or dword [PAGE_TABLE + eax * 4], 1
        pop eax
        add esp, 4                  ; the error code
        iret

soft_int:
        add dword [interrupts], 1
        iret

leaf:
        add eax, 1
        ret

pass:
        mov ecx, ROUNDS
.round: push ecx
        call round
        pop ecx
        dec ecx
        jnz .round
        ret

; Everything computed so far into the checksum (so that a wrong result anywhere changes it).
%macro fold 0
        add [checksum], eax
        xor [checksum], ebx
        add [checksum], edx
        xor [checksum], edi
        rol dword [checksum], 5
%endmacro

; Jcc, SETcc and CMOVcc with every condition, after whatever set the flags.
%macro every_condition 0
        jo %%c0
%%c0:   jno %%c1
%%c1:   jb %%c2
%%c2:   jae %%c3
%%c3:   je %%c4
%%c4:   jne %%c5
%%c5:   jbe %%c6
%%c6:   ja %%c7
%%c7:   js %%c8
%%c8:   jns %%c9
%%c9:   jp %%c10
%%c10:  jnp %%c11
%%c11:  jl %%c12
%%c12:  jge %%c13
%%c13:  jle %%c14
%%c14:  jg %%c15
%%c15:  jz near %%c16
%%c16:  jl near %%c17
%%c17:  seto dl
        setb dh
        setz dl
        setbe dh
        sets dl
        setp dh
        setl dl
        setle dh
        setnz byte [esi + 17]
        cmovz edi, ebx
        cmovl edi, eax
        cmova edi, edx
        cmovs edi, [esi + 4]
        cmovge edi, [esi + 8]
%endmacro

; The eight ALU operations in every form the cache has.
%macro alu_forms 1
        %1 eax, ebx
        %1 edi, 0x12345
        %1 edi, -3
        %1 eax, 0x7fffffff
        %1 edx, [esi + 4]
        %1 [esi + 24], ebx
        %1 dword [esi + 28], 0x11
        %1 dword [esi + 32], 0x12345678
        %1 al, 0x33
        %1 bh, 0x44
        %1 dl, bl
        %1 ah, [esi + 13]
        %1 [esi + 15], dl
        %1 byte [esi + 16], 0x55
        %1 di, bx
        every_condition
        fold
%endmacro

; Shifts and rotates: by 1, by an immediate, by CL (0 to 31), 16-bit, 8-bit, in memory.
%macro shift_forms 1
        %1 edi, 1
        every_condition
        %1 edi, 5
        %1 ebx, cl
        every_condition
        %1 di, 3
        %1 di, 1
        %1 dl, 3
        %1 dword [esi + 40], 3
        every_condition
        fold
%endmacro

round:
        push ebp
        mov ebp, esp
        sub esp, 16

        ; The next pseudo-random value, and operands made from it.
        mov eax, [seed]
        imul eax, eax, 1664525
        add eax, 1013904223
        mov [seed], eax
        mov ebx, eax
        ror ebx, 7
        mov ecx, eax
        shr ecx, 27                 ; shift counts 0-31
        mov edx, 0x9abcdef0
        mov esi, DATA

        ; Loads and stores: aligned, unaligned, across a page, scaled index, byte, word, immediate.
        nop
        mov [esi], eax
        mov [esi + 5], ebx
        mov [esi + 0xffe], edx
        mov edx, [esi + 0xffe]
        mov edi, [esi + 5]
        mov edi, [esi + ecx * 4 + 16]
        fs mov edi, [esi + 8]
        lea edi, [eax + ebx * 8 + 0x100]
        mov dword [esi + 8], 0x87654321
        mov byte [esi + 12], 0x5a
        mov [esi + 13], al
        mov [esi + 14], bh
        mov dl, [esi + 13]
        mov dh, [esi + 5]
        mov [esi + 20], ax
        mov dx, [esi + 21]
        mov word [esi + 22], 0x1234
        movzx edi, byte [esi + 13]
        movzx edi, word [esi + 20]
        movsx edi, byte [esi + 14]
        movsx edi, word [esi + 21]
        movzx edi, al
        movzx edi, bh
        movzx edi, bx
        movsx edi, ah
        movsx edi, dx
        mov di, bx
        mov al, bl
        mov ah, dh
        mov bl, 0x7f
        mov edi, ebx
        fold

        alu_forms add
        alu_forms or
        alu_forms adc
        alu_forms sbb
        alu_forms and
        alu_forms sub
        alu_forms xor
        alu_forms cmp

        test edi, ebx
        every_condition
        test edi, 0x100
        test dword [esi + 4], 0x8000
        test bl, 0x40
        test byte [esi + 13], 1
        test al, bl
        every_condition
        fold

        inc edi
        every_condition
        dec edi
        every_condition
        inc dword [esi + 56]
        dec dword [esi + 56]
        inc di
        inc byte [esi + 57]
        fold

        shift_forms shl
        shift_forms shr
        shift_forms sar
        shift_forms rol
        shift_forms ror
        shift_forms rcl
        shift_forms rcr

        ; Multiply and divide (divisors odd and below 64 Ki, so no quotient overflows).
        imul edi, ebx
        every_condition
        imul edi, [esi + 4]
        imul edi, ebx, 1000
        imul edi, [esi], -7
        not edi
        neg edi
        every_condition
        mov eax, [seed]
        mul ebx
        every_condition
        imul ebx
        mov edi, ebx
        and edi, 0xffff
        or edi, 1
        xor edx, edx
        div edi
        fold
        cdq
        idiv edi
        fold
        mov dword [esi + 52], 12345
        not dword [esi + 44]
        neg dword [esi + 44]
        mul dword [esi + 48]
        imul dword [esi + 48]
        xor edx, edx
        div dword [esi + 52]
        cdq
        idiv dword [esi + 52]
        fold
        mov eax, [seed]
        cdq
        fold
        cwde
        cdq
        fold
        movzx eax, al
        mov bl, 7
        div bl
        mul bl
        imul bh
        fold

        ; The stack: pushes of registers, immediates and memory; XCHG.
        push eax
        push edi
        push 0x12345678
        push -5
        push dword [esi + 4]
        pop edi
        pop edi
        pop edi
        pop edi
        pop eax
        xchg edi, ebx
        xchg eax, edi
        xchg [esi + 60], edi
        pushfd
        popfd
        pushad
        popad
        fold

        ; LOOP, LOOPE, LOOPNE, JECXZ (ECX saved: it holds the shift count).
        push ecx
        mov ecx, 3
.loop:  loop .loop
        mov ecx, 3
.loope: cmp edi, edi
        loope .loope
        mov ecx, 3
.loopne:
        cmp ecx, 100
        loopne .loopne
        jecxz .zero
.zero:  inc ecx
        jecxz .zero
        pop ecx

        ; Jumps and calls: relative, through a register, through memory.
        jmp short .j1
.j1:    jmp near .j2
.j2:    mov edi, .j3
        jmp edi
.j3:    mov dword [esi + 64], .j4
        jmp [esi + 64]
.j4:    mov edi, leaf
        call edi
        mov dword [esi + 68], leaf
        call [esi + 68]
        call leaf
        int 0x30

        ; String instructions, once and repeated, forwards and backwards.
        push esi
        push ecx
        lea edi, [esi + 0x400]
        lea esi, [esi + 0x200]
        movsb
        movsd
        movsw
        stosb
        stosd
        lodsb
        lodsd
        scasb
        scasd
        cmpsb
        cmpsd
        es lodsd
        mov ecx, 8
        rep movsd
        mov ecx, 5
        rep stosb
        mov ecx, 4
        repe cmpsb
        mov ecx, 4
        repne scasb
        std
        movsb
        stosd
        cld
        fold
        pop ecx
        pop esi

        ; x87: loads, arithmetic, compares, stores (the stack left empty).
        fld dword [x87_single]
        fld qword [x87_double]
        faddp st1
        fild dword [esi]
        fmul st0, st1
        fdivr st0, st1
        fcom st1
        fnstsw ax
        sahf
        fxch st1
        fchs
        fabs
        fistp dword [esi + 72]
        fstp qword [esi + 80]
        fld1
        fldz
        fsubp st1
        fstp dword [esi + 88]
        fold

        ; Others of the generic path.
        lahf
        bt edi, 5
        bts dword [esi + 92], 3
        or ebx, 0x100               ; BSF and BSR of zero leave the destination undefined
        bsf edi, ebx
        bsr edi, ebx
        bswap edi
        xadd [esi + 96], edi
        mov eax, [esi + 100]
        cmpxchg [esi + 100], edi
        lock add dword [esi + 104], 1
        shld edi, ebx, 5
        shrd edi, ebx, cl
        clc
        stc
        cmc
        push ebx
        push ecx
        push edx
        mov eax, 1
        cpuid
        pop edx
        pop ecx
        pop ebx
        enter 8, 0
        leave

        ; In pass 2, a page fault: the page goes, the load faults, the handler maps it again.
        cmp byte [paging], 0
        je .checksum
        and dword [PAGE_TABLE + (FAULT_PAGE >> 12) * 4], ~1
        invlpg [FAULT_PAGE]
        mov edi, [FAULT_PAGE]

.checksum:
        fold
        leave
        ret

idt_pointer:
        dw 256 * 8 - 1
        dd IDT
x87_single:
        dd 1.5
x87_double:
        dq -2.25
seed:
        dd 0
checksum:
        dd 0
interrupts:
        dd 0
paging:
        db 0
