; 09 interrupt gates vs trap gates: both push EFLAGS and clear TF and NT on
; entry, an interrupt gate also clears IF, a trap gate leaves it; INT n
; checks the gate's DPL against CPL (#GP(n*8+2) from ring 3, also for INT3
; and INTO), a not-present gate gives #NP(n*8+2), an all-zero IDT entry
; (invalid type) and a vector beyond the IDT limit #GP(n*8+2).  IF=1 is safe here: the PICs are masked.
%define TEST_TITLE "09 trap vs interrupt gates"
%include "boot.inc"

V_INT   equ 0x40                ; interrupt gate, DPL 3
V_TRAP  equ 0x41                ; trap gate, DPL 3
V_KINT  equ 0x42                ; interrupt gate, DPL 0
V_NP    equ 0x50                ; valid interrupt gate type, DPL 3, P=0
V_EMPTY equ 0x51                ; all-zero descriptor (type 0: invalid)

; Report "EFLAGS inside" and "EFLAGS pushed", masked to IF, TF, NT
%macro REPORT 0
        mov eax, [in_flags]
        and eax, FL_IF | FL_TF | FL_NT
        SHOW32 "inside IF/TF/NT=", eax
        mov eax, [pushed_flags]
        and eax, FL_IF | FL_TF | FL_NT
        SHOW32 "pushed=", eax
        mov eax, [after_flags]
        and eax, FL_IF | FL_TF | FL_NT
        SHOW32 "after iret=", eax
        NL
%endmacro

main:
        IDT_GATE V_INT, handler, GATE_INT32 | GATE_DPL3
        IDT_GATE V_TRAP, handler, GATE_TRAP32 | GATE_DPL3
        IDT_GATE V_KINT, handler, GATE_INT32
        IDT_GATE V_NP, handler, (GATE_INT32 & 0x7F) | GATE_DPL3

        PRINTLN "-- ring 0, IF=1"
        sti
        PRINT "interrupt gate: "
        int V_INT
        call save_after
        REPORT
        PRINT "trap gate: "
        int V_TRAP
        call save_after
        REPORT
        PRINTLN "-- ring 0, IF=0"
        cli
        PRINT "trap gate: "
        int V_TRAP
        call save_after
        REPORT
        PRINTLN "-- ring 0, NT=1 (the handler's IRET sees NT=0)"
        PRINT "trap gate: "
        pushfd
        or dword [esp], FL_NT
        popfd
        int V_TRAP
        call save_after
        pushfd                          ; clear NT before any other IRET
        and dword [esp], ~FL_NT
        popfd
        REPORT

        PRINTLN "-- ring 3 with IF=1 (set by the IRET into ring 3)"
        mov dword [user_eflags], 0x2 | FL_IF
        PRINT "interrupt gate: "
        mov ebx, u_int
        call user_call
        REPORT
        PRINT "trap gate: "
        mov ebx, u_trap
        call user_call
        REPORT
        mov dword [user_eflags], 0x2

        PRINTLN "-- gate checks"
        PRINT "ring 3 INT to DPL 0 gate: "
        TRY .c1
        mov ebx, u_kint
        call user_call
        ENDTRY
.c1:    IDT_GATE 3, isr_stub_3, GATE_INT32      ; #BP and #OF gates DPL 0
        IDT_GATE 4, isr_stub_4, GATE_INT32
        PRINT "ring 3 INT3, DPL 0 gate: "
        TRY .c2
        mov ebx, u_int3
        call user_call
        ENDTRY
.c2:    PRINT "ring 3 INTO (OF=1), DPL 0 gate: "
        TRY .c3
        mov ebx, u_into
        call user_call
        ENDTRY
.c3:    IDT_GATE 3, isr_stub_3, GATE_INT32 | GATE_DPL3
        IDT_GATE 4, isr_stub_4, GATE_INT32 | GATE_DPL3
        PRINT "ring 0 INT to a not-present gate: "
        TRY .c4
        int V_NP
        ENDTRY
.c4:    PRINT "ring 3 INT to a not-present gate: "
        TRY .c5
        mov ebx, u_np
        call user_call
        ENDTRY
.c5:    PRINT "INT to an all-zero IDT entry: "
        TRY .c5b
        int V_EMPTY
        ENDTRY
.c5b:   PRINT "INT beyond the IDT limit: "
        mov word [small_idt], V_INT * 8 - 1     ; vectors 0..0x3F only
        mov dword [small_idt + 2], idt
        lidt [small_idt]
        TRY .c6
        int V_INT + 0x10
        ENDTRY
.c6:    lidt [idt_desc]
        ret

save_after:
        pushfd
        pop dword [after_flags]
        ret

handler:
        pushfd
        pop dword [ss:in_flags]
        push eax
        mov eax, [esp + 12]             ; pushed EFLAGS (after EAX, EIP, CS)
        mov [ss:pushed_flags], eax
        pop eax
        iretd

; ---- ring 3 ----
u_int:  int V_INT
        call save_after
        RET0
u_trap: int V_TRAP
        call save_after
        RET0
u_kint: int V_KINT
        RET0
u_int3: int3
        RET0
u_into: mov al, 0x7F
        add al, 1                       ; OF=1
        into
        RET0
u_np:   int V_NP
        RET0

section .data
align 4
in_flags:       dd 0
pushed_flags:   dd 0
after_flags:    dd 0
small_idt:      dw 0
                dd 0
section .text
