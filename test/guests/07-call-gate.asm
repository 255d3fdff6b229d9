; 07 call gates: a far CALL from ring 3 through a 32-bit call gate to ring 0
; with 3 dwords copied to the new stack, and RETF 12 back; the same gate
; called from ring 0 (no stack switch, nothing copied); a 16-bit call gate
; copying 2 words; and the error codes for a gate whose DPL is below CPL,
; a not-present gate, a JMP through a gate to a more privileged segment,
; a gate to an outer ring, and a null target selector.
%define TEST_TITLE "07 call gates with parameter copy"
%include "boot.inc"

GATE32   equ GDT_FREE + 0x00    ; DPL 3, 32-bit, 3 params -> KCODE:target32
GATE_K   equ GDT_FREE + 0x08    ; DPL 0 gate
GATE16   equ GDT_FREE + 0x10    ; DPL 3, 16-bit, 2 params -> CODE_IMG:target16
CODE_IMG equ GDT_FREE + 0x18    ; ring 0 32-bit code with base 0x100000
GATE_NP  equ GDT_FREE + 0x20    ; not present
GATE_OUT equ GDT_FREE + 0x28    ; DPL 0 gate to ring 3 code (outer ring)
GATE_NUL equ GDT_FREE + 0x30    ; gate with a null target selector
UCODE16  equ GDT_FREE + 0x38    ; ring 3 16-bit code, base 0x100000
USTACK16 equ GDT_FREE + 0x40    ; ring 3 16-bit stack segment (B=0) over stack16

main:
        GDT_GATE GATE32, target32, KCODE, GATE_CALL32 | GATE_DPL3, 3
        GDT_GATE GATE_K, target32, KCODE, GATE_CALL32, 3
        GDT_DESC CODE_IMG, 0x100000, 0xFFFF, ACC_CODE, DF_D
        GDT_GATE GATE16, target16 - 0x100000, CODE_IMG, 0x84 | GATE_DPL3, 2
        GDT_GATE GATE_NP, target32, KCODE, GATE_CALL32 & 0x7F, 0
        GDT_GATE GATE_OUT, user_code, UCODE, GATE_CALL32, 0
        GDT_GATE GATE_NUL, target32, 0, GATE_CALL32, 0
        GDT_DESC UCODE16, 0x100000, 0xFFFF, ACC_CODE | ACC_DPL3, 0
        GDT_DESC USTACK16, stack16, 0xFFFF, ACC_DATA | ACC_DPL3, 0

        PRINTLN "-- ring 3 -> gate -> ring 0, 3 dwords copied"
        mov ebx, u_call32
        call user_call
        call show_record
        SHOW32 "ring 3 after retf: eax=", eax
        SHOWREL "esp=", [u_esp_after], user_stack_top
        NL

        PRINTLN "-- ring 0 -> same gate (no stack switch)"
        push dword 0xC0
        push dword 0xC1
        push dword 0xC2
        mov [k_esp_before], esp
        mov eax, 5
        call GATE32:0
k_ret:  mov [k_esp_after], esp
        PRINT "ring 0 saw:"
        SHOWREL "eip=", [rec + 0], k_ret
        SHOW16 "cs=", [rec + 4]
        SHOW32 "p=", [rec + 8]
        SHOW32 "p=", [rec + 12]
        SHOW32 "p=", [rec + 16]
        mov eax, [rec_esp]
        sub eax, [k_esp_before]
        SHOW32 "esp-caller's=", eax
        mov eax, [k_esp_after]
        sub eax, [k_esp_before]
        SHOW32 "caller's esp change=", eax
        NL

        PRINTLN "-- 16-bit ring 3 code -> 16-bit gate, 2 words copied"
        call enter16
        PRINT "ring 0 saw:"
        SHOW16 "ip=", [rec16 + 0]
        SHOW16 "cs=", [rec16 + 2]
        SHOW16 "p=", [rec16 + 4]
        SHOW16 "p=", [rec16 + 6]
        SHOW16 "sp=", [rec16 + 8]
        SHOW16 "ss=", [rec16 + 10]
        NL
        SHOWREL "  esp=", [rec16_esp], ring0_stack_top
        SHOW16 "cs=", [rec16_cs]
        NL
        SHOW16 "ring 3 after retf: ax=", ax
        SHOW16 "sp=", [u_esp_after]
        SHOW16 "cs=", [user_frame_cs]
        SHOW16 "ss=", [user_frame_ss]
        NL

        PRINTLN "-- faults"
        PRINT "ring 3 calls DPL 0 gate: "
        TRY .f1
        mov ebx, u_call_k
        call user_call
        ENDTRY
.f1:    PRINT "not-present gate: "
        TRY .f2
        call GATE_NP:0
        ENDTRY
.f2:    PRINT "ring 3 jmp through gate to ring 0: "
        TRY .f3
        mov ebx, u_jmp32
        call user_call
        ENDTRY
.f3:    PRINT "call gate to an outer ring: "
        TRY .f4
        call GATE_OUT:0
        ENDTRY
.f4:    PRINT "gate with null target: "
        TRY .f5
        call GATE_NUL:0
        ENDTRY
.f5:    ret

; Enter 16-bit ring 3 code (CS=UCODE16, SS=USTACK16, SP=0x1000); it ends with
; RET0, which returns from this routine.
enter16:
        mov [user_saved_esp], esp
        push dword USTACK16 | 3
        push dword 0x1000
        push dword 0x2
        push dword UCODE16 | 3
        push dword u_call16 - 0x100000
        mov ax, UDATA
        mov ds, ax
        mov es, ax
        iretd

; Print the stack record made by target32
show_record:
        PRINT "ring 0 saw:"
        SHOWREL "eip=", [rec + 0], ret_point
        SHOW16 "cs=", [rec + 4]
        SHOW32 "p=", [rec + 8]
        SHOW32 "p=", [rec + 12]
        SHOW32 "p=", [rec + 16]
        SHOWREL "esp=", [rec + 20], user_stack_top
        SHOW16 "ss=", [rec + 24]
        NL
        SHOWREL "  ring 0 esp=", [rec_esp], ring0_stack_top
        SHOW16 "cs=", [rec_cs]
        SHOW16 "ss=", [rec_ss]
        NL
        ret

; The gate target: record what is on the stack, return popping 3 params.
target32:
        mov [ss:rec_esp], esp
        mov [ss:rec_cs], cs
        mov [ss:rec_ss], ss
        push eax
        push ecx
        xor ecx, ecx
.copy:  mov eax, [esp + 8 + ecx * 4]
        mov [ss:rec + ecx * 4], eax
        inc ecx
        cmp ecx, 7
        jb .copy
        pop ecx
        pop eax
        add eax, 0x100          ; visible result for the caller
        retf 12

; 16-bit gate target, running in CODE_IMG (base 0x100000, 32-bit code):
; record 6 words, return with a 16-bit RETF popping 4 bytes of params.
target16:
        mov [ss:rec16_esp], esp
        mov [ss:rec16_cs], cs
        push eax
        mov eax, [esp + 4]
        mov [ss:rec16 + 0], eax
        mov eax, [esp + 8]
        mov [ss:rec16 + 4], eax
        mov eax, [esp + 12]
        mov [ss:rec16 + 8], eax
        pop eax
        add eax, 0x16
        o16 retf 4

; ---- ring 3 ----
u_call32:
        push dword 0x11111111
        push dword 0x22222222
        push dword 0x33333333
        mov eax, 7
        call GATE32 | 3:0
ret_point:
        mov [u_esp_after], esp
        RET0
bits 16
u_call16:                       ; 16-bit code in UCODE16 (IP = linear - 0x100000)
        push word 0xAAAA
        push word 0xBBBB
        mov ax, 9
        call GATE16 | 3:0
        mov [dword u_esp_after], sp
        RET0
bits 32
u_call_k:
        call GATE_K | 3:0
        RET0
u_jmp32:
        jmp GATE32 | 3:0
user_code:
        RET0

section .data
align 4
rec:            times 7 dd 0
rec_esp:        dd 0
rec_cs:         dd 0
rec_ss:         dd 0
rec16:          times 3 dd 0
rec16_esp:      dd 0
rec16_cs:       dd 0
u_esp_after:    dd 0
k_esp_before:   dd 0
k_esp_after:    dd 0
section .bss
alignb 16
stack16:        resb 0x1000
section .text
