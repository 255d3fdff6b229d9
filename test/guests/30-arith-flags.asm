; 30 arithmetic flags: ADD/ADC/SUB/SBB/CMP/NEG (all six status flags),
; INC/DEC (CF untouched: preset both ways), logic ops (OF=CF=0, AF
; undefined), and the decimal adjustments DAA/DAS (OF undefined) and
; AAA/AAS (only AF and CF defined) over many AL values with each AF/CF
; input.  Undefined flags print as '*'.
%define TEST_TITLE "30 ADC SBB INC DEC NEG DAA DAS AAA AAS flags"
%include "boot.inc"

; BIN "text", a, b, op, carry-in (0/1) — 32-bit op eax, ecx; print result, flags
%macro BIN 5
        mov eax, %2
        mov ecx, %3
        push dword 0x2 | %5
        popfd
        %4 eax, ecx
        pushfd
        pop esi
        call sep
        PRINT %1
        SHOW32 "", eax
        SHOWFLAGS "", esi, %%mask
%%mask  equ FL_ARITH
%endmacro

main:
        PRINTLN "-- add adc sub sbb cmp (32-bit)"
        BIN "add 7fffffff+1:", 0x7FFFFFFF, 1, add, 0
        BIN "add ffffffff+1:", 0xFFFFFFFF, 1, add, 0
        BIN "add 0f+01:", 0x0F, 1, add, 0
        NL
        BIN "adc ffffffff+0+c:", 0xFFFFFFFF, 0, adc, FL_CF
        BIN "adc 7fffffff+0+c:", 0x7FFFFFFF, 0, adc, FL_CF
        BIN "adc 0+ffffffff+c:", 0, 0xFFFFFFFF, adc, FL_CF
        NL
        BIN "sub 0-1:", 0, 1, sub, 0
        BIN "sub 80000000-1:", 0x80000000, 1, sub, 0
        BIN "sub 10-1:", 0x10, 1, sub, 0
        NL
        BIN "sbb 0-0-c:", 0, 0, sbb, FL_CF
        BIN "sbb 5-5-c:", 5, 5, sbb, FL_CF
        BIN "sbb 80000000-ffffffff-c:", 0x80000000, 0xFFFFFFFF, sbb, FL_CF
        NL
        BIN "cmp 3,5:", 3, 5, cmp, 0
        BIN "cmp -1,1:", -1, 1, cmp, 0
        BIN "cmp 5,5:", 5, 5, cmp, 0
        NL
        PRINTLN "-- 8 and 16-bit"
        mov al, 0xFF
        mov cl, 0x01
        push dword 0x2 | FL_CF
        popfd
        adc al, cl
        pushfd
        pop esi
        SHOW8 "adc8 ff+1+c=", al
        SHOWFLAGS "", esi, FL_ARITH
        mov ax, 0x8000
        sub ax, 1
        pushfd
        pop esi
        SHOW16 "sub16 8000-1=", ax
        SHOWFLAGS "", esi, FL_ARITH
        mov ax, 0x00FF
        add al, 1                       ; AH untouched
        pushfd
        pop esi
        SHOW16 "add al: ax=", ax
        SHOWFLAGS "", esi, FL_ARITH
        NL

        PRINTLN "-- inc dec (CF preset to 1, then 0)"
        %macro INCDEC 3
        mov eax, %2
        push dword 0x2 | FL_CF
        popfd
        %3 eax
        pushfd
        pop esi
        call sep
        PRINT %1
        SHOW32 "", eax
        SHOWFLAGS "", esi, FL_ARITH
        mov eax, %2
        push dword 0x2
        popfd
        %3 eax
        pushfd
        pop esi
        SHOWFLAGS "", esi, FL_ARITH
        %endmacro
        INCDEC "inc 7fffffff:", 0x7FFFFFFF, inc
        INCDEC "inc ffffffff:", 0xFFFFFFFF, inc
        INCDEC "inc 0f:", 0x0F, inc
        NL
        INCDEC "dec 80000000:", 0x80000000, dec
        INCDEC "dec 0:", 0, dec
        INCDEC "dec 1:", 1, dec
        NL
        mov byte [mem], 0x7F
        inc byte [mem]
        pushfd
        pop esi
        SHOW8 "inc byte 7f=", [mem]
        SHOWFLAGS "", esi, FL_ARITH
        mov word [mem], 0
        dec word [mem]
        pushfd
        pop esi
        SHOW16 "dec word 0=", [mem]
        SHOWFLAGS "", esi, FL_ARITH
        NL

        PRINTLN "-- neg"
        INCDEC "neg 0:", 0, neg
        INCDEC "neg 1:", 1, neg
        INCDEC "neg 80000000:", 0x80000000, neg
        NL
        mov al, 0x80
        neg al
        pushfd
        pop esi
        SHOW8 "neg8 80=", al
        SHOWFLAGS "", esi, FL_ARITH
        mov al, 0x10
        neg al
        pushfd
        pop esi
        SHOW8 "neg8 10=", al
        SHOWFLAGS "", esi, FL_ARITH
        NL

        PRINTLN "-- logic (OF=CF=0, AF undefined; CF OF preset)"
        %macro LOGIC 4
        mov eax, %2
        push dword 0x2 | FL_CF | FL_OF | FL_AF
        popfd
        %3 eax, %4
        pushfd
        pop esi
        call sep
        PRINT %1
        SHOW32 "", eax
        SHOWFLAGS "", esi, FL_ARITH & ~FL_AF
        %endmacro
        LOGIC "and:", 0xF0F0F0F0, and, 0x0F0F0F0F
        LOGIC "or:", 0x80000000, or, 1
        LOGIC "xor:", 0x12345678, xor, 0x12345678
        LOGIC "test:", 0x80000001, test, 0x80000000
        NL

        PRINTLN "-- daa das (al: result/flags for AF,CF in = 00 01 10 11)"
        mov esi, bcd_inputs
        mov edi, do_daa
        call decimal_table
        mov esi, bcd_inputs
        mov edi, do_das
        call decimal_table
        PRINTLN "-- aaa aas (ax: result/flags, only A and C defined)"
        mov esi, ascii_inputs
        mov edi, do_aaa
        call decimal_table
        mov esi, ascii_inputs
        mov edi, do_aas
        call decimal_table
        ret

; decimal_table: ESI = table of words (value, terminated by 0xFFFF),
; EDI = routine that runs the instruction on AX with flags in EDX and returns
; AX and the flags in EDX and the flag mask in EBX.  Prints one line per value.
decimal_table:
.next:  movzx eax, word [esi]
        cmp ax, 0xFFFF
        je .done
        SHOW16 "", ax
        PRINT ":"
        xor ecx, ecx                    ; ecx: 0..3 = AF,CF inputs
.combo: mov edx, 0x2
        test cl, 1
        jz .nocf
        or edx, FL_CF
.nocf:  test cl, 2
        jz .noaf
        or edx, FL_AF
.noaf:  push eax
        call edi
        SHOW16 "", ax
        PRINT "/"
        push eax
        mov eax, edx
        push edx
        mov edx, ebx
        call putflags
        pop edx
        pop eax
        pop eax
        inc ecx
        cmp ecx, 4
        jb .combo
        NL
        add esi, 2
        jmp .next
.done:  ret

; each: AX in, EDX = flags to load; out AX, EDX = flags, EBX = defined mask
do_daa: push edx
        popfd
        daa
        pushfd
        pop edx
        mov ebx, FL_ARITH & ~FL_OF
        ret
do_das: push edx
        popfd
        das
        pushfd
        pop edx
        mov ebx, FL_ARITH & ~FL_OF
        ret
do_aaa: push edx
        popfd
        aaa
        pushfd
        pop edx
        mov ebx, FL_AF | FL_CF
        ret
do_aas: push edx
        popfd
        aas
        pushfd
        pop edx
        mov ebx, FL_AF | FL_CF
        ret

section .data
align 4
mem:            dd 0
bcd_inputs:     dw 0x00, 0x09, 0x0A, 0x0F, 0x10, 0x19, 0x1A, 0x55, 0x99, 0x9A
                dw 0x9F, 0xA0, 0xF9, 0xFA, 0xFF, 0xFFFF
ascii_inputs:   dw 0x0000, 0x0009, 0x000A, 0x000F, 0x0039, 0x003A, 0x0105
                dw 0x01FA, 0x0FFF, 0x00F9, 0x0006, 0x0005, 0xFFFF
section .text
