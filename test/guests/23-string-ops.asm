; 23 32-bit string instructions: REP MOVS/STOS/LODS of bytes, words and
; dwords with DF=0 and DF=1 (final ESI, EDI, ECX and the memory), an
; overlapping forward copy (element by element), REPE/REPNE CMPS and SCAS
; stopping on (mis)match with their flags, a REP with ECX=0 (nothing happens,
; flags kept), a segment override on the source, and the 16-bit address size
; (a16: SI/DI/CX only, wrapping at 64 KiB, upper halves kept).
%define TEST_TITLE "23 string instructions"
%include "boot.inc"

SEG_A   equ GDT_FREE + 0x00     ; data segment based at region (64 KiB + 16)
SEG_F   equ GDT_FREE + 0x08     ; data segment based at src + 0x10

; REGS — print ESI, EDI (relative to the buffers) and ECX
%macro REGS 0
        SHOWREL "esi=", esi, src
        SHOWREL "edi=", edi, dst
        SHOW32 "ecx=", ecx
%endmacro

; DUMP "name", address, count — print count bytes as hex
%macro DUMP 3
        call sep
        PRINT %1
        push esi
        push ecx
        mov esi, %2
        mov ecx, %3
        call dump
        pop ecx
        pop esi
%endmacro

; reset: src = 00 01 02 ... 3f, dst = 64 bytes of 0xEE
reset:
        pushad
        xor eax, eax
.s:     mov [src + eax], al
        inc eax
        cmp eax, 64
        jb .s
        mov edi, dst
        mov ecx, 64
        mov al, 0xEE
        rep stosb
        popad
        ret

dump:
        pushad
.b:     mov al, [esi]
        call puthex8
        inc esi
        loop .b
        popad
        ret

main:
        cld
        GDT_DESC SEG_F, src + 0x10, 0xFFFF, ACC_DATA, DF_D
        PRINTLN "-- movs"
        call reset
        mov esi, src + 1
        mov edi, dst + 2
        mov ecx, 7
        rep movsb
        PRINT "movsb x7 fwd:"
        REGS
        DUMP "dst=", dst, 12
        NL
        call reset
        std
        mov esi, src + 20
        mov edi, dst + 10
        mov ecx, 3
        rep movsw
        cld
        PRINT "movsw x3 bwd:"
        REGS
        DUMP "dst=", dst, 14
        NL
        call reset
        mov esi, src + 4
        mov edi, dst
        mov ecx, 3
        rep movsd
        PRINT "movsd x3 fwd:"
        REGS
        DUMP "dst=", dst, 14
        NL
        call reset
        mov esi, src                    ; overlap: dst = src + 1 (same buffer)
        mov edi, src + 1
        mov ecx, 8
        rep movsb
        PRINT "overlapping movsb:"
        DUMP "src=", src, 12
        NL
        call reset
        mov ax, SEG_F
        mov fs, ax
        mov esi, 0                      ; fs:0 = src + 0x10
        mov edi, dst
        mov ecx, 4
        fs rep movsb                    ; source from FS:ESI (dest is always ES:EDI)
        PRINT "fs: override movsb x4:"
        DUMP "dst=", dst, 6
        NL

        PRINTLN "-- stos, lods"
        call reset
        mov eax, 0x44332211
        mov edi, dst + 1
        mov ecx, 2
        rep stosd
        PRINT "stosd x2 fwd:"
        SHOWREL "edi=", edi, dst
        DUMP "dst=", dst, 12
        NL
        call reset
        std
        mov edi, dst + 9
        mov ecx, 3
        mov al, 0x5A
        rep stosb
        cld
        PRINT "stosb x3 bwd:"
        SHOWREL "edi=", edi, dst
        DUMP "dst=", dst, 12
        NL
        std
        mov esi, src + 10
        lodsw
        cld
        PRINT "lodsw bwd:"
        SHOW16 "ax=", ax
        SHOWREL "esi=", esi, src
        mov esi, src + 12
        mov ecx, 3
        rep lodsd
        SHOW32 "rep lodsd x3: eax=", eax
        SHOWREL "esi=", esi, src
        NL

        PRINTLN "-- cmps, scas"
        call reset
        mov esi, src
        mov edi, cmpbuf
        mov ecx, 10
        repe cmpsb                      ; cmpbuf differs at index 5
        pushfd
        pop edx
        PRINT "repe cmpsb:"
        SHOWREL "esi=", esi, src
        SHOWREL "edi=", edi, cmpbuf
        SHOW32 "ecx=", ecx
        SHOWFLAGS "flags=", edx, FL_ARITH
        NL
        mov esi, src
        mov edi, cmpbuf
        mov ecx, 5
        repe cmpsb                      ; all 5 equal
        pushfd
        pop edx
        PRINT "repe cmpsb, all equal:"
        SHOW32 "ecx=", ecx
        SHOWFLAGS "flags=", edx, FL_ARITH
        NL
        mov esi, src
        mov edi, cmpbuf
        mov ecx, 10
        repne cmpsb                     ; stops at the first equal: index 0
        pushfd
        pop edx
        PRINT "repne cmpsb:"
        SHOW32 "ecx=", ecx
        SHOWFLAGS "flags=", edx, FL_ARITH
        NL
        std
        mov esi, src + 12
        mov edi, cmpbuf + 12
        mov ecx, 4
        repe cmpsw
        pushfd
        pop edx
        cld
        PRINT "repe cmpsw bwd:"
        SHOWREL "esi=", esi, src
        SHOW32 "ecx=", ecx
        SHOWFLAGS "flags=", edx, FL_ARITH
        NL
        mov edi, src
        mov ecx, 64
        mov al, 0x21
        repne scasb
        pushfd
        pop edx
        PRINT "repne scasb for 0x21:"
        SHOWREL "edi=", edi, src
        SHOW32 "ecx=", ecx
        SHOWFLAGS "flags=", edx, FL_ARITH
        NL
        mov edi, src
        mov ecx, 4
        mov eax, 0x03020100
        repe scasd                      ; first dword equal, second not
        pushfd
        pop edx
        PRINT "repe scasd:"
        SHOWREL "edi=", edi, src
        SHOW32 "ecx=", ecx
        SHOWFLAGS "flags=", edx, FL_ARITH
        NL
        mov edi, src
        mov ecx, 3
        mov ax, 0x7777
        repne scasw                     ; not found
        pushfd
        pop edx
        PRINT "repne scasw, absent:"
        SHOWREL "edi=", edi, src
        SHOW32 "ecx=", ecx
        SHOWFLAGS "flags=", edx, FL_ARITH
        NL

        PRINTLN "-- ecx = 0"
        push dword 0x2 | FL_CF | FL_ZF | FL_SF
        popfd
        mov esi, src
        mov edi, cmpbuf
        mov ecx, 0                      ; (MOV: the flags stay as set)
        repe cmpsb
        pushfd
        pop edx
        PRINT "repe cmpsb:"
        SHOWREL "esi=", esi, src
        SHOWREL "edi=", edi, cmpbuf
        SHOWFLAGS "flags=", edx, FL_ARITH
        NL

        PRINTLN "-- 16-bit address size (a16: SI, DI, CX)"
        GDT_DESC SEG_A, region, 0xFFFFF, ACC_DATA, DF_G | DF_D
        mov byte [region + 0xFFFF], 0xA1
        mov byte [region + 0], 0xB2
        mov byte [region + 1], 0xC3
        mov ax, SEG_A
        mov ds, ax
        mov es, ax
        mov esi, 0x1234FFFF             ; SI = 0xFFFF: wraps to 0
        mov edi, 0x56780100
        mov ecx, 0x9ABC0003             ; CX = 3
        a16 rep movsb
        mov ax, KDATA
        mov ds, ax
        mov es, ax
        SHOW32 "esi=", esi
        SHOW32 "edi=", edi
        SHOW32 "ecx=", ecx
        DUMP "copied=", region + 0x100, 3
        NL
        ret

section .data
cmpbuf: db 0, 1, 2, 3, 4, 0x55, 6, 7, 8, 9, 10, 11, 12, 0x0D, 14, 15
section .bss
alignb 16
src:            resb 64
dst:            resb 64
region:         resb 0x10010
section .text
