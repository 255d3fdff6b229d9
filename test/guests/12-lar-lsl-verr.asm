; 12 LAR, LSL, VERR, VERW and ARPL over a table of selectors (code, data,
; conforming, execute-only, read-only, expand-down, not present, TSS busy and
; available, LDT, call/task/interrupt gates, null, beyond the GDT, an LDT
; selector), from ring 0, from ring 0 with RPL 3, and from ring 3.
; Printed: ZF (1 = valid) and the result; when ZF=0 the destination keeps its
; old value (0xdeadbeef).  LAR's result is masked with 0x00f0fe00: bits 19:16
; are not defined, and bit 8 is the descriptor's accessed bit, which real CPUs
; set when a selector is loaded into CS but QEMU 7.2 sets only for data
; segment loads.
%define TEST_TITLE "12 LAR LSL VERR VERW ARPL"
%include "boot.inc"

S_CONF  equ GDT_FREE + 0x00     ; conforming readable code DPL 0
S_XO    equ GDT_FREE + 0x08     ; execute-only code DPL 0
S_RO    equ GDT_FREE + 0x10     ; read-only data DPL 3
S_NP    equ GDT_FREE + 0x18     ; not-present data DPL 3
S_DOWN  equ GDT_FREE + 0x20     ; expand-down data, limit 0x1234, DPL 3
S_TSSA  equ GDT_FREE + 0x28     ; available 32-bit TSS, DPL 3
S_LDT   equ GDT_FREE + 0x30     ; LDT, DPL 3
S_CGATE equ GDT_FREE + 0x38     ; call gate DPL 3
S_TGATE equ GDT_FREE + 0x40     ; task gate DPL 3
S_IGATE equ GDT_FREE + 0x48     ; interrupt gate (not allowed in the GDT for LAR)
S_CODE3 equ GDT_FREE + 0x50     ; code DPL 3, byte limit 0xABCDE, readable
S_DPL1  equ GDT_FREE + 0x58     ; data DPL 1

main:
        GDT_DESC S_CONF, 0, 0xFFFFF, 0x9E, DF_G | DF_D
        GDT_DESC S_XO, 0, 0x12345, 0x98, DF_D
        GDT_DESC S_RO, 0, 0xFFFFF, 0xF0, DF_G | DF_D
        GDT_DESC S_NP, 0, 0xFFFFF, 0x72, DF_G | DF_D
        GDT_DESC S_DOWN, 0, 0x1234, 0xF6, DF_D
        GDT_DESC S_TSSA, tss_space, TSS_SIZE - 1, ACC_TSS | ACC_DPL3, 0
        GDT_DESC S_LDT, tss_space, 0x3F, ACC_LDT | ACC_DPL3, 0
        GDT_GATE S_CGATE, main, KCODE, GATE_CALL32 | GATE_DPL3, 2
        GDT_GATE S_TGATE, 0, TSS_SEL, GATE_TASK | GATE_DPL3, 0
        GDT_GATE S_IGATE, main, KCODE, GATE_INT32 | GATE_DPL3, 0
        GDT_DESC S_CODE3, 0, 0xABCDE, 0xFA, DF_D
        GDT_DESC S_DPL1, 0, 0xFFFFF, 0xB2, DF_G | DF_D

        PRINTLN "-- ring 0"
        xor ebx, ebx
        call probe_all
        PRINTLN "-- ring 0, RPL 3"
        mov ebx, 3
        call probe_all
        PRINTLN "-- ring 3"
        mov ebx, u_probe
        call user_call

        PRINTLN "-- ARPL (dest, src -> dest, ZF)"
        %macro DO_ARPL 2
        mov ax, %1
        mov cx, %2
        arpl ax, cx
        setz dl
        SHOW16 "", ax
        SHOW8 "zf=", dl
        %endmacro
        DO_ARPL 0x0010, 0x0003
        DO_ARPL 0x0013, 0x0001
        DO_ARPL 0x0012, 0x0012
        DO_ARPL 0xFFF8, 0x0002
        NL
        mov word [arpl_mem], 0x0021
        mov cx, 0x0003
        arpl [arpl_mem], cx
        setz dl
        SHOW16 "memory operand: ", [arpl_mem]
        SHOW8 "zf=", dl
        NL
        ret

u_probe:
        mov ebx, 3                      ; (RPL of the selectors: 3, as usual)
        call probe_all
        RET0

; probe_all: EBX = RPL to OR into each selector; one line per selector
probe_all:
        mov esi, sel_table
.next:  movzx eax, word [esi]
        cmp ax, 0xFFFF
        je .done
        or eax, ebx
        call probe
        add esi, 2
        jmp .next
.done:  ret

; probe: AX = selector
probe:
        pushad
        mov ecx, eax
        SHOW16 "", cx
        mov eax, 0xDEADBEEF
        lar eax, ecx
        setz dl
        jnz .lar_bad
        and eax, 0x00F0FE00
.lar_bad:
        SHOW8 "lar zf=", dl
        SHOW32 "", eax
        mov eax, 0xDEADBEEF
        lsl eax, ecx
        setz dl
        SHOW8 "lsl zf=", dl
        SHOW32 "", eax
        verr cx
        setz dl
        SHOW8 "verr=", dl
        verw cx
        setz dl
        SHOW8 "verw=", dl
        NL
        popad
        ret

section .data
sel_table:
        dw 0, KCODE, KDATA, UCODE & ~3, UDATA & ~3, TSS_SEL
        dw S_CONF, S_XO, S_RO, S_NP, S_DOWN, S_TSSA, S_LDT, S_CGATE, S_TGATE
        dw S_IGATE, S_CODE3, S_DPL1, 0x1F8 + 8, 0x0C
        dw 0xFFFF
arpl_mem:       dw 0
section .bss
tss_space:      resb TSS_SIZE
section .text
