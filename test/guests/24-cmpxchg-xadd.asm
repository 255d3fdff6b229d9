; 24 CMPXCHG8B, CMPXCHG, XADD, BSWAP and XCHG: results and flags.
; CMPXCHG8B sets only ZF (the other flags are preset and must survive);
; CMPXCHG sets all six status flags like CMP accumulator, destination;
; XADD like ADD.  CMPXCHG8B with a register operand is #UD.  BSWAP of a
; 16-bit register is undefined and not used.
%define TEST_TITLE "24 CMPXCHG8B CMPXCHG XADD BSWAP"
%include "boot.inc"

main:
        PRINTLN "-- cmpxchg8b (flags preset to O S A P C)"
        mov dword [q], 0x11111111
        mov dword [q + 4], 0x22222222
        mov eax, 0x11111111             ; equal
        mov edx, 0x22222222
        mov ebx, 0xBBBBBBBB
        mov ecx, 0xCCCCCCCC
        push dword 0x2 | FL_OF | FL_SF | FL_AF | FL_PF | FL_CF
        popfd
        lock cmpxchg8b [q]
        pushfd
        pop esi
        PRINT "equal:"
        SHOW32 "edx:eax=", edx
        SHOW32 "", eax
        SHOW32 "mem=", [q + 4]
        SHOW32 "", [q]
        SHOWFLAGS "flags=", esi, FL_ARITH
        NL
        mov eax, 0x11111111             ; not equal now
        mov edx, 0x22222222
        mov ebx, 0x33333333
        mov ecx, 0x44444444
        push dword 0x2 | FL_ZF
        popfd
        cmpxchg8b [q]
        pushfd
        pop esi
        PRINT "not equal:"
        SHOW32 "edx:eax=", edx
        SHOW32 "", eax
        SHOW32 "mem=", [q + 4]
        SHOW32 "", [q]
        SHOWFLAGS "flags=", esi, FL_ARITH
        NL
        PRINT "register operand: "
        TRY .ud
        db 0x0F, 0xC7, 0xC8             ; cmpxchg8b eax: invalid
        ENDTRY
.ud:
        PRINTLN "-- cmpxchg"
        %macro CX32 3                   ; eax, [mem] initial, ecx (new)
        mov dword [d], %2
        mov eax, %1
        mov ecx, %3
        lock cmpxchg [d], ecx
        pushfd
        pop esi
        SHOW32 "eax=", eax
        SHOW32 "mem=", [d]
        SHOWFLAGS "flags=", esi, FL_ARITH
        NL
        %endmacro
        CX32 5, 5, 9
        CX32 5, 7, 9
        CX32 0x80000000, 1, 9
        CX32 0, 0xFFFFFFFF, 9
        mov al, 0x7F
        mov byte [d], 0x80
        mov bl, 0x11
        cmpxchg [d], bl
        pushfd
        pop esi
        SHOW8 "8-bit: al=", al
        SHOW8 "mem=", [d]
        SHOWFLAGS "flags=", esi, FL_ARITH
        mov ax, 0x1234
        mov dx, 0x1234
        mov cx, 0xBEEF
        cmpxchg dx, cx                  ; register destination
        pushfd
        pop esi
        SHOW16 "16-bit reg: ax=", ax
        SHOW16 "dx=", dx
        SHOWFLAGS "flags=", esi, FL_ARITH
        NL

        PRINTLN "-- xadd"
        %macro XA 2
        mov dword [d], %1
        mov ecx, %2
        lock xadd [d], ecx
        pushfd
        pop esi
        SHOW32 "mem=", [d]
        SHOW32 "ecx=", ecx
        SHOWFLAGS "flags=", esi, FL_ARITH
        NL
        %endmacro
        XA 1, 2
        XA 0x7FFFFFFF, 1
        XA 0xFFFFFFFF, 1
        XA 0x0000000F, 0x00000001
        mov al, 0x80
        mov bl, 0x80
        xadd al, bl
        pushfd
        pop esi
        SHOW8 "8-bit reg: al=", al
        SHOW8 "bl=", bl
        SHOWFLAGS "flags=", esi, FL_ARITH
        mov word [d], 0xFFFE
        mov cx, 3
        xadd [d], cx
        pushfd
        pop esi
        SHOW16 "16-bit: mem=", [d]
        SHOW16 "cx=", cx
        SHOWFLAGS "flags=", esi, FL_ARITH
        NL

        PRINTLN "-- bswap, xchg"
        mov eax, 0x11223344
        bswap eax
        mov edi, 0x80FF0001
        bswap edi
        SHOW32 "bswap eax=", eax
        SHOW32 "edi=", edi
        mov dword [d], 0xAAAA5555
        mov ebx, 0x12345678
        xchg [d], ebx
        SHOW32 "xchg: ebx=", ebx
        SHOW32 "mem=", [d]
        NL
        ret

section .data
align 8
q:      dq 0
d:      dd 0
section .text
