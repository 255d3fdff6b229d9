; 27 bit instructions: BT/BTS/BTR/BTC with an immediate or register bit
; offset on registers (offset taken modulo the operand size) and on memory
; (a register offset addresses bits outside the operand, also negative ones;
; an immediate is taken modulo the size), 16- and 32-bit; BSF/BSR.  Printed
; flags: CF only for BTx (the others are undefined), ZF only for BSF/BSR;
; BSF/BSR of 0 leave an undefined destination, so only ZF is printed then.
%define TEST_TITLE "27 BT BTS BTR BTC BSF BSR"
%include "boot.inc"

%macro RESETMEM 0
        mov dword [mem], 0x00000000
        mov dword [mem + 4], 0x80000001
        mov dword [mem + 8], 0x0000F000
        mov dword [mem - 4], 0x40000000
%endmacro

; BTOP "text", instruction... (operates, then prints CF, EAX and memory)
%macro SHOWBT 1
        pushfd
        pop esi
        PRINT %1
        SHOWFLAGS "cf=", esi, FL_CF
        SHOW32 "eax=", eax
        SHOW32 "mem-4..8=", [mem - 4]
        SHOW32 "", [mem]
        SHOW32 "", [mem + 4]
        SHOW32 "", [mem + 8]
        NL
%endmacro

main:
        PRINTLN "-- register operands"
        mov eax, 0x00008001
        bt eax, 15
        SHOWBT "bt eax,15:"
        mov ecx, 32 + 15                ; modulo 32 -> 15
        bt eax, ecx
        SHOWBT "bt eax,47:"
        bts eax, 4
        SHOWBT "bts eax,4:"
        btr eax, 0
        SHOWBT "btr eax,0:"
        mov ecx, 31
        btc eax, ecx
        SHOWBT "btc eax,31:"
        btc eax, ecx
        SHOWBT "btc eax,31 again:"
        mov ax, 0x8000
        mov cx, 16 + 15                 ; 16-bit: modulo 16
        bt ax, cx
        SHOWBT "bt ax,31:"

        PRINTLN "-- memory operands"
        RESETMEM
        xor eax, eax
        bt dword [mem], 0
        SHOWBT "bt [mem],0:"
        mov ecx, 32
        bt dword [mem], ecx             ; bit 32 = bit 0 of mem+4
        SHOWBT "bt [mem],ecx=32:"
        mov ecx, 63
        bts dword [mem], ecx            ; already set
        SHOWBT "bts [mem],ecx=63:"
        mov ecx, 64 + 12
        btr dword [mem], ecx            ; bit 12 of mem+8
        SHOWBT "btr [mem],ecx=76:"
        mov ecx, -2                     ; bit 30 of mem-4
        btc dword [mem], ecx
        SHOWBT "btc [mem],ecx=-2:"
        mov ecx, 5
        bts dword [mem], ecx
        SHOWBT "bts [mem],ecx=5:"
        bts dword [mem], 32 + 7         ; immediate: modulo 32 -> bit 7
        SHOWBT "bts [mem],39 (imm):"
        RESETMEM
        mov cx, 16 + 3                  ; 16-bit register offset: word mem+2, bit 3
        bts word [mem], cx
        SHOWBT "bts word [mem],cx=19:"
        mov cx, -2                      ; word at mem-2, bit 14
        btr word [mem], cx
        SHOWBT "btr word [mem],cx=-2:"

        PRINTLN "-- bsf, bsr"
        %macro SCAN 2
        mov ecx, %2
        mov eax, 0xDEAD
        bsf eax, ecx
        pushfd
        pop esi
        PRINT %1
        SHOWFLAGS "bsf zf=", esi, FL_ZF
        jz %%zero1
        SHOW32 "", eax
%%zero1:
        mov eax, 0xDEAD
        bsr eax, ecx
        pushfd
        pop esi
        SHOWFLAGS "bsr zf=", esi, FL_ZF
        jz %%zero2
        SHOW32 "", eax
%%zero2:
        NL
        %endmacro
        SCAN "0x00000001:", 0x00000001
        SCAN "0x80000000:", 0x80000000
        SCAN "0x00F00F00:", 0x00F00F00
        SCAN "0xFFFFFFFF:", 0xFFFFFFFF
        SCAN "0:", 0
        mov word [mem], 0x0180
        bsf ax, [mem]
        SHOW16 "bsf ax,word [0x0180]=", ax
        bsr ax, [mem]
        SHOW16 "bsr=", ax
        NL
        ret

section .data
align 4
                dd 0
mem:            dd 0, 0, 0
section .text
