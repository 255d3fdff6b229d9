; 29 multiply and divide edge cases: MUL/IMUL (one, two and three operand
; forms, 8/16/32-bit) with CF=OF telling whether the upper half is
; significant (SF ZF AF PF are undefined and masked); DIV/IDIV quotients and
; remainders at the limits, the remainder taking the dividend's sign (all
; flags undefined, not printed); AAM/AAD with base 10 and other bases (SF ZF
; PF defined).  Divide errors (#DE) are in 15-exceptions.
%define TEST_TITLE "29 MUL IMUL DIV IDIV AAM AAD"
%include "boot.inc"

FL_CO   equ FL_CF | FL_OF

; M32 "text", instruction — print EDX:EAX and CF/OF
%macro M32 2
        %2
        pushfd
        pop esi
        PRINT %1
        SHOW32 "edx:eax=", edx
        SHOW32 "", eax
        SHOWFLAGS "", esi, FL_CO
        NL
%endmacro

main:
        PRINTLN "-- mul"
        mov eax, 0xFFFFFFFF
        mov ecx, 0xFFFFFFFF
        M32 "ffffffff*ffffffff:", {mul ecx}
        mov eax, 0x10000
        mov ecx, 0x10000
        M32 "10000*10000:", {mul ecx}
        mov eax, 0xFFFF
        mov ecx, 0x10001
        M32 "ffff*10001:", {mul ecx}
        mov eax, 0x12
        mov dl, 0x10
        mul dl
        pushfd
        pop esi
        SHOW16 "mul 8-bit 12*10: ax=", ax
        SHOWFLAGS "", esi, FL_CO
        mov ax, 0x8000
        mov dx, 0x1234
        mov cx, 2
        mul cx
        pushfd
        pop esi
        SHOW16 "mul 16-bit 8000*2: dx=", dx
        SHOW16 "ax=", ax
        SHOWFLAGS "", esi, FL_CO
        NL

        PRINTLN "-- imul"
        mov eax, -3
        mov ecx, 5
        M32 "-3*5 (one operand):", {imul ecx}
        mov eax, 0x80000000
        mov ecx, -1
        M32 "80000000*-1:", {imul ecx}
        mov eax, 0x40000000
        mov ecx, 2
        M32 "40000000*2:", {imul ecx}
        mov eax, 0x7FFFFFFF
        mov ecx, 0x7FFFFFFF
        M32 "7fffffff^2:", {imul ecx}
        mov al, -128
        mov dl, -1
        imul dl
        pushfd
        pop esi
        SHOW16 "8-bit -128*-1: ax=", ax
        SHOWFLAGS "", esi, FL_CO
        mov al, -8
        mov dl, 16
        imul dl
        pushfd
        pop esi
        SHOW16 "-8*16: ax=", ax
        SHOWFLAGS "", esi, FL_CO
        NL
        mov ebx, 0x40000000
        imul ebx, ebx, 4                ; three operand, overflows
        pushfd
        pop esi
        SHOW32 "imul ebx,ebx,4 (40000000): ", ebx
        SHOWFLAGS "", esi, FL_CO
        mov ebx, -5
        imul ebx, ebx, -7
        pushfd
        pop esi
        SHOW32 "-5*-7: ", ebx
        SHOWFLAGS "", esi, FL_CO
        mov ecx, 0x12345
        mov dword [mem], 0x10000
        imul ecx, [mem]                 ; two operand, memory
        pushfd
        pop esi
        SHOW32 "imul ecx,[mem] 12345*10000: ", ecx
        SHOWFLAGS "", esi, FL_CO
        NL
        mov bx, 0x7FFF
        imul bx, bx, 2
        pushfd
        pop esi
        SHOW16 "16-bit 7fff*2: ", bx
        SHOWFLAGS "", esi, FL_CO
        mov bx, -1
        imul bx, bx, -32768
        pushfd
        pop esi
        SHOW16 "-1*-32768: ", bx
        SHOWFLAGS "", esi, FL_CO
        mov bx, -2
        imul bx, bx, 127
        pushfd
        pop esi
        SHOW16 "-2*127: ", bx
        SHOWFLAGS "", esi, FL_CO
        NL

        PRINTLN "-- div, idiv: quotient remainder"
        %macro D32 5                    ; text, edx, eax, divisor, div|idiv
        mov edx, %2
        mov eax, %3
        mov ecx, %4
        %5 ecx
        PRINT %1
        SHOW32 "q=", eax
        SHOW32 "r=", edx
        NL
        %endmacro
        D32 "div fffffffe:ffffffff/ffffffff:", 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFF, div
        D32 "div 0:7/2:", 0, 7, 2, div
        D32 "div 1:0/3:", 1, 0, 3, div
        D32 "idiv -7/2:", -1, -7, 2, idiv
        D32 "idiv 7/-2:", 0, 7, -2, idiv
        D32 "idiv -7/-2:", -1, -7, -2, idiv
        D32 "idiv 80000000/1:", -1, 0x80000000, 1, idiv
        D32 "idiv -1/-1 (64-bit):", -1, -1, -1, idiv
        D32 "idiv 3fffffff:7fffffff/7fffffff:", 0x3FFFFFFF, 0x7FFFFFFF, 0x7FFFFFFF, idiv
        mov ax, 0xFEFF
        mov cl, 0xFF
        div cl
        SHOW16 "div 8-bit feff/ff: ax=", ax
        mov ax, -129
        mov cl, 2
        idiv cl
        SHOW16 "idiv -129/2: ax=", ax
        mov dx, 0x8000
        mov ax, 0
        mov cx, 0x8001
        div cx
        SHOW16 "div 16-bit 80000000/8001: dx=", dx
        SHOW16 "ax=", ax
        NL

        PRINTLN "-- aam, aad (S Z P)"
        %macro ASC 2
        mov ax, %2
        %1
        pushfd
        pop esi
        call sep
        PRINT %str(%1)
        SHOW16 "", ax
        SHOWFLAGS "", esi, FL_SF | FL_ZF | FL_PF
        %endmacro
        ASC aam, 0x0063
        ASC aam, 0x00FF
        ASC aam, 0x0000
        ASC {aam 16}, 0x00AB
        NL
        ASC aad, 0x0907
        ASC aad, 0x1905
        ASC {aad 16}, 0x0A0B
        ASC aad, 0x0000
        NL
        ret

section .data
align 4
mem:    dd 0
section .text
