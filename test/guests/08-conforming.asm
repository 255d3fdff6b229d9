; 08 conforming code segments: ring 3 may far-CALL/JMP into a conforming
; segment of DPL 0 and keeps CPL 3 there (CS.RPL = 3, no stack switch); a
; call gate whose target is conforming also causes no privilege change;
; non-conforming DPL 0 code is refused from ring 3 (#GP(selector)); ring 0
; may not call conforming code of DPL 3 (DPL > CPL); a conforming readable
; segment can be loaded into DS from any ring, an execute-only one cannot.
%define TEST_TITLE "08 conforming code segments"
%include "boot.inc"

CONF0   equ GDT_FREE + 0x00     ; conforming, readable, DPL 0
CONF3   equ GDT_FREE + 0x08     ; conforming, readable, DPL 3
GATE_C  equ GDT_FREE + 0x10     ; DPL 3 call gate -> CONF0:conf_target
CONF0X  equ GDT_FREE + 0x18     ; conforming, execute-only, DPL 0

main:
        GDT_DESC CONF0, 0, 0xFFFFF, 0x9E, DF_G | DF_D
        GDT_DESC CONF3, 0, 0xFFFFF, 0xFE, DF_G | DF_D
        GDT_GATE GATE_C, gate_target, CONF0, GATE_CALL32 | GATE_DPL3, 0
        GDT_DESC CONF0X, 0, 0xFFFFF, 0x9C, DF_G | DF_D

        PRINTLN "-- ring 3 far call to conforming DPL 0"
        mov ebx, u_call_conf
        call user_call
        call show
        PRINTLN "-- ring 3 far jmp to conforming DPL 0 (and back)"
        mov ebx, u_jmp_conf
        call user_call
        SHOW16 "cs there=", [seen_cs]
        NL
        ; Through a gate the CS selector's RPL is not printed: real CPUs set it
        ; to CPL (3), QEMU 7.2 loads the gate's selector unchanged (RPL 0).
        ; CPL itself stays 3 in both: a privileged instruction still faults.
        PRINTLN "-- ring 3 call gate -> conforming DPL 0"
        PRINT "mov eax, cr0 there: "
        TRY .g
        mov ebx, u_call_gate
        call user_call
        ENDTRY
.g:     SHOW16 "ss=", [seen_ss]
        SHOW32 "caller esp - callee esp=", [seen_esp_delta]
        NL
        PRINTLN "-- ring 0 far call to conforming DPL 0"
        mov eax, 3
        mov [u_esp], esp
        call CONF0:conf_target
        call fix_delta
        call show

        PRINTLN "-- refused transfers"
        PRINT "ring 3 call non-conforming DPL 0: "
        TRY .f1
        mov ebx, u_call_kcode
        call user_call
        ENDTRY
.f1:    PRINT "ring 3 jmp non-conforming DPL 0: "
        TRY .f2
        mov ebx, u_jmp_kcode
        call user_call
        ENDTRY
.f2:    PRINT "ring 0 call conforming DPL 3: "
        TRY .f3
        call CONF3:conf_target
        ENDTRY
.f3:
        PRINTLN "-- data segment loads"
        PRINT "ring 3 mov ds, conforming readable DPL 0: "
        TRY .d1
        mov ebx, u_load_conf
        call user_call
        ENDTRY
.d1:    SHOW16 "  ds=", [seen_ds]
        NL
        PRINT "ring 0 mov ds, conforming execute-only: "
        TRY .d2
        mov ax, CONF0X
        mov ds, ax
        ENDTRY
.d2:    ret

show:
        SHOW16 "cs=", [seen_cs]
        SHOW16 "ss=", [seen_ss]
        SHOW32 "caller esp - callee esp=", [seen_esp_delta]
        SHOW32 "eax=", eax
        NL
        ret

; Runs wherever it is called from; reports CS/SS and how far ESP moved.
conf_target:
        mov [seen_cs], cs
        mov [seen_ss], ss
        mov [seen_esp_delta], esp
        add eax, 0x50
        retf

; Reached through GATE_C: record SS and ESP, then try a ring 0 instruction.
gate_target:
        mov [seen_ss], ss
        push eax
        mov eax, [u_esp]
        sub eax, esp
        sub eax, 4
        mov [seen_esp_delta], eax
        pop eax
        mov eax, cr0
        retf

; ---- ring 3 ----
u_call_conf:
        mov eax, 1
        mov [u_esp], esp
        call CONF0:conf_target
        jmp u_after
u_call_gate:
        mov eax, 2
        mov [u_esp], esp
        call GATE_C | 3:0
        RET0
u_after:
        call fix_delta
        RET0

; seen_esp_delta holds ESP at the callee; make it relative to the caller's
fix_delta:
        push eax
        mov eax, [u_esp]
        sub eax, [seen_esp_delta]
        mov [seen_esp_delta], eax
        pop eax
        ret
u_jmp_conf:
        jmp CONF0:.there
.there: mov [seen_cs], cs
        jmp UCODE:.back
.back:  RET0
u_call_kcode:
        call KCODE:conf_target
        RET0
u_jmp_kcode:
        jmp KCODE:.x
.x:     RET0
u_load_conf:
        mov ax, CONF0
        mov ds, ax
        mov [ss:seen_ds], ds    ; DS is now a code segment: write via SS
        RET0

section .data
align 4
seen_cs:        dd 0
seen_ss:        dd 0
seen_esp_delta: dd 0
seen_ds:        dd 0
u_esp:          dd 0
section .text
