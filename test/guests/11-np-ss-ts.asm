; 11 #NP, #SS and #TS and their error codes (selector with RPL bits cleared):
;   #NP: far CALL/JMP to a not-present code segment, INT through a gate whose
;        code segment is not present, LLDT/LTR of a not-present descriptor,
;        a task gate to a not-present TSS;
;   #SS: MOV SS / LSS with a not-present segment;
;   #TS: a ring 3 -> ring 0 transition (INT n or call gate) with a bad SS0 in
;        the TSS (a code segment, beyond the GDT, DPL 3, RPL 3), a task switch
;        to a TSS whose limit is below 0x67, IRET with NT=1 to a TSS that is
;        not busy.  JMP to a busy TSS is #GP(selector).
; #TS for a bad SS0 can't be handled on that stack, so vector 10 goes through
; a task gate to a handler task that repairs SS0 and IRETs back; the
; interrupted instruction then runs again and succeeds.
;
; QEMU quirks avoided: QEMU raises #TS (real CPUs #SS) when SS0 is merely
; not present, #NP (real CPUs #SS) for IRET/RETF to an outer ring whose SS is
; not present, and never sets the EXT bit (bit 0) in these error codes when
; the switch was caused by an exception rather than INT n.
%define TEST_TITLE "11 #NP #SS #TS error codes"
%include "boot.inc"
%include "task.inc"

C_NP    equ GDT_FREE + 0x00     ; not-present code segment
D_NP    equ GDT_FREE + 0x08     ; not-present data segment
LDT_NP  equ GDT_FREE + 0x10     ; not-present LDT descriptor
TSS_NP  equ GDT_FREE + 0x18     ; not-present TSS descriptor
TSS_TS  equ GDT_FREE + 0x20     ; the #TS handler task
TSS_SML equ GDT_FREE + 0x28     ; TSS with limit 0x50 (< 0x67)
TSS_AV  equ GDT_FREE + 0x30     ; an available (not busy) TSS
GATE_U  equ GDT_FREE + 0x38     ; DPL 3 call gate to ring 0
V_NPC   equ 0x40                ; INT gate whose code segment is not present

main:
        GDT_DESC C_NP, 0, 0xFFFFF, ACC_CODE & 0x7F, DF_G | DF_D
        GDT_DESC D_NP, 0, 0xFFFFF, ACC_DATA & 0x7F, DF_G | DF_D
        GDT_DESC LDT_NP, ldt_space, 0xFF, ACC_LDT & 0x7F, 0
        GDT_DESC TSS_NP, tss_other, TSS_SIZE - 1, ACC_TSS & 0x7F, 0
        GDT_DESC TSS_SML, tss_other, 0x50, ACC_TSS, 0
        GDT_DESC TSS_AV, tss_other, TSS_SIZE - 1, ACC_TSS, 0
        GDT_GATE GATE_U, gate_target, KCODE, GATE_CALL32 | GATE_DPL3, 0
        IDT_GATE V_NPC, 0, GATE_INT32
        mov word [idt + V_NPC * 8 + 2], C_NP   ; the gate's code selector
        mov edi, tss_other
        mov ebx, never
        mov ecx, other_stack_top
        call make_tss
        mov edi, tss_ts
        mov ebx, ts_handler
        mov ecx, ts_stack_top
        call make_tss
        GDT_DESC TSS_TS, tss_ts, TSS_SIZE - 1, ACC_TSS, 0

        PRINTLN "-- #NP"
        PRINT "far call, code not present: "
        TRY .n1
        call C_NP:0
        ENDTRY
.n1:    PRINT "far jmp, code not present: "
        TRY .n2
        jmp C_NP:0
        ENDTRY
.n2:    PRINT "int, gate's code not present: "
        TRY .n3
        int V_NPC
        ENDTRY
.n3:    PRINT "lldt, not present: "
        TRY .n4
        mov ax, LDT_NP
        lldt ax
        ENDTRY
.n4:    PRINT "ltr, not present: "
        TRY .n5
        mov ax, TSS_NP
        ltr ax
        ENDTRY
.n5:    PRINT "task gate to a not-present TSS: "
        IDT_GATE 0x41, TSS_NP, GATE_TASK
        TRY .n6
        int 0x41
        ENDTRY
.n6:
        PRINTLN "-- #SS"
        PRINT "mov ss, not present: "
        TRY .s1
        mov ax, D_NP
        mov ss, ax
        ENDTRY
.s1:    PRINT "lss, not present: "
        mov dword [farptr], 0x1000
        mov word [farptr + 4], D_NP
        TRY .s2
        lss esp, [farptr]
        ENDTRY
.s2:
        PRINTLN "-- #TS from a bad TSS.SS0 (handled by a task)"
        IDT_GATE 10, TSS_TS, GATE_TASK
        %macro BAD_SS0 3                ; text, SS0 value, ring 3 code
        PRINT %1
        mov dword [tss_main + TSS_SS0], %2
        mov dword [ts_count], 0
        mov ebx, %3
        call user_call
        clts                            ; the task switches set CR0.TS
        SHOW32 "#TS count=", [ts_count]
        SHOW32 "err=", [ts_err]
        SHOWREL "eip=", [ts_eip], %3
        NL
        %endmacro
        BAD_SS0 "int, SS0=code:", KCODE, u_int
        BAD_SS0 "int, SS0 beyond GDT:", 0x200, u_int
        BAD_SS0 "int, SS0 DPL 3:", UDATA & ~3, u_int
        BAD_SS0 "int, SS0 RPL 3:", KDATA | 3, u_int
        BAD_SS0 "call gate, SS0=code:", KCODE, u_call
        IDT_RESTORE 10

        PRINTLN "-- task switch checks"
        PRINT "jmp to a TSS with limit 0x50: "
        TRY .t1
        jmp TSS_SML:0
        ENDTRY
.t1:    PRINT "iret NT=1, back link not busy: "
        mov word [tss_main + TSS_LINK], TSS_AV
        TRY .t2
        pushfd
        or dword [esp], FL_NT
        popfd
        iretd
        ENDTRY
.t2:    PRINT "jmp to a busy TSS (our own): "
        TRY .t3
        jmp TSS_SEL:0
        ENDTRY
.t3:    ret

; The #TS handler task: the error code is on its stack.  Record it and the
; faulting EIP (saved in the main TSS by the switch), repair SS0, IRET back
; to the interrupted task.  The next #TS re-enters after the IRET: loop.
ts_handler:
        pop dword [ts_err]
        inc dword [ts_count]
        mov eax, [tss_main + TSS_EIP]
        mov [ts_eip], eax
        mov dword [tss_main + TSS_SS0], KDATA
        iretd
        jmp ts_handler

gate_target:
        retf

never:  PRINTLN "unexpected: entered tss_other"
        EXIT EXIT_FAIL

; ---- ring 3 ----
u_int:  RET0
u_call: call GATE_U | 3:0
        RET0

section .data
farptr:         dd 0
                dw 0
align 4
ts_err:         dd 0
ts_count:       dd 0
ts_eip:         dd 0
section .bss
alignb 16
tss_other:      resb TSS_SIZE
tss_ts:         resb TSS_SIZE
ldt_space:      resb 256
                resb 4096
other_stack_top:
                resb 4096
ts_stack_top:
section .text
