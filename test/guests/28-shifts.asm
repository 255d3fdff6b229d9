; 28 shifts and rotates with their defined flags.  Rules (Intel SDM): the
; count is masked to 5 bits; a masked count of 0 changes nothing (flags
; preset here must survive); SHL/SHR/SAR set CF SF ZF PF, OF only for a count
; of 1, AF never defined; CF is undefined for SHL/SHR by >= the operand
; size; ROL/ROR/RCL/RCR change only CF (and OF for a count of 1) and leave
; SF ZF AF PF alone; RCL/RCR of 8/16-bit rotate modulo 9/17; SHLD/SHRD set
; CF SF ZF PF (OF for a count of 1), and are undefined for 16-bit counts
; above 16 (not used).  Undefined flags print as '*'.
%define TEST_TITLE "28 shifts, rotates, SHLD, SHRD"
%include "boot.inc"

FL_SZPC equ FL_SF | FL_ZF | FL_PF | FL_CF
FL_SZP  equ FL_SF | FL_ZF | FL_PF
PRESET  equ 0x2 | FL_SF | FL_AF | FL_PF   ; flags loaded before each op

; OP "text", mask, value, instruction [, stc/clc] — EAX = value, load the
; preset flags (then STC/CLC if given), run, print EAX and the flags
%macro OP 4-5
        mov eax, %3
        push dword PRESET
        popfd
        %5
        %4
        pushfd
        pop esi
        PRINT %1
        SHOW32 "", eax
        SHOWFLAGS "", esi, %2
        NL
%endmacro

main:
        mov cl, 0
        PRINTLN "-- shl/shr/sar (flags preset: S A P)"
        OP "shl 1:    ", FL_SZPC | FL_OF, 0x80000001, {shl eax, 1}
        OP "shl 1 (OF):", FL_SZPC | FL_OF, 0x40000000, {shl eax, 1}
        OP "shl 4:    ", FL_SZPC, 0x18000001, {shl eax, 4}
        OP "shl 31:   ", FL_SZPC, 0x00000003, {shl eax, 31}
        OP "shl 32 (=0, no change):", FL_ARITH, 0x12345678, {shl eax, 32}
        OP "shl 33 (=1):", FL_SZPC | FL_OF, 0x80000001, {shl eax, 33}
        OP "shr 1:    ", FL_SZPC | FL_OF, 0x80000001, {shr eax, 1}
        OP "shr 8:    ", FL_SZPC, 0x0000FF80, {shr eax, 8}
        OP "sar 1:    ", FL_SZPC | FL_OF, 0x80000001, {sar eax, 1}
        OP "sar 31:   ", FL_SZPC, 0x80000000, {sar eax, 31}
        OP "sar 4 pos:", FL_SZPC, 0x7FFFFFF0, {sar eax, 4}
        OP "shl al,7: ", FL_SZPC, 0x00000003, {shl al, 7}
        OP "shl al,8 (CF undefined):", FL_SZP, 0x000000FF, {shl al, 8}
        OP "shr ax,16 (CF undefined):", FL_SZP, 0x0000FFFF, {shr ax, 16}
        OP "sar ax,15:", FL_SZPC, 0x00008000, {sar ax, 15}
        OP "shl cl=0: ", FL_ARITH, 0x12345678, {shl eax, cl}

        PRINTLN "-- rotates (S Z A P preset/unaffected)"
        FL_ROT equ FL_SF | FL_ZF | FL_AF | FL_PF | FL_CF
        OP "rol 1:    ", FL_ROT | FL_OF, 0x80000001, {rol eax, 1}
        OP "rol 4:    ", FL_ROT, 0x80000001, {rol eax, 4}
        OP "ror 1:    ", FL_ROT | FL_OF, 0x00000001, {ror eax, 1}
        OP "ror 31:   ", FL_ROT, 0x00000001, {ror eax, 31}
        OP "rol al,8: ", FL_ROT, 0x00000081, {rol al, 8}
        OP "ror al,9: ", FL_ROT, 0x00000081, {ror al, 9}
        OP "rol eax,0 via 32:", FL_ARITH, 0x00000081, {rol eax, 32}
        OP "rcl 1 CF=0:", FL_ROT | FL_OF, 0x80000000, {rcl eax, 1}
        OP "rcl 1 CF=1:", FL_ROT | FL_OF, 0x00000000, {rcl eax, 1}, stc
        OP "rcr 1 CF=1:", FL_ROT | FL_OF, 0x00000001, {rcr eax, 1}, stc
        OP "rcl al,9 CF=1 (= full circle):", FL_ROT, 0x000000A5, {rcl al, 9}, stc
        OP "rcl al,10 CF=0:", FL_ROT, 0x000000A5, {rcl al, 10}, clc
        OP "rcr ax,17 CF=1:", FL_ROT, 0x00001234, {rcr ax, 17}, stc
        OP "rcr ax,5 CF=1:", FL_ROT, 0x00001234, {rcr ax, 5}, stc

        PRINTLN "-- shld / shrd (edx = 0x89abcdef)"
        mov edx, 0x89ABCDEF
        OP "shld 1:   ", FL_SZPC | FL_OF, 0x40000000, {shld eax, edx, 1}
        OP "shld 4:   ", FL_SZPC, 0x12345678, {shld eax, edx, 4}
        OP "shld 31:  ", FL_SZPC, 0x12345678, {shld eax, edx, 31}
        OP "shld 32 (=0):", FL_ARITH, 0x12345678, {shld eax, edx, 32}
        OP "shrd 1:   ", FL_SZPC | FL_OF, 0x00000001, {shrd eax, edx, 1}
        OP "shrd 8:   ", FL_SZPC, 0x12345678, {shrd eax, edx, 8}
        mov cl, 12
        OP "shrd cl=12:", FL_SZPC, 0x12345678, {shrd eax, edx, cl}
        OP "shld ax,dx,4:", FL_SZPC, 0x00001234, {shld ax, dx, 4}
        OP "shrd ax,dx,15:", FL_SZPC, 0x00001234, {shrd ax, dx, 15}
        mov dword [mem], 0x00FF00FF
        mov eax, 0x11111111
        push dword PRESET
        popfd
        shld [mem], edx, 8
        pushfd
        pop esi
        PRINT "shld [mem],edx,8:"
        SHOW32 "", [mem]
        SHOWFLAGS "", esi, FL_SZPC
        NL
        ret

section .data
align 4
mem:    dd 0
section .text
