; 26 conditions: for each of the 32 combinations of OF SF ZF PF CF (loaded
; with POPF), the 16 condition codes as evaluated by SETcc, CMOVcc (32-bit
; register, 16-bit memory source) and Jcc.  Each row prints the flags and
; four 16-character strings in condition order O NO B AE E NE BE A S NS P NP
; L GE LE G (1 = condition true / move done / branch taken).
%define TEST_TITLE "26 SETcc CMOVcc Jcc"
%include "boot.inc"

main:
        PRINTLN "flags  setcc            cmov32           cmov16m          jcc"
        xor ebx, ebx                    ; combination number 0..31
.combo: ; build EFLAGS: bit0 of ebx -> CF, 1 -> PF, 2 -> ZF, 3 -> SF, 4 -> OF
        mov eax, 0x2
        test bl, 1
        jz .a
        or eax, FL_CF
.a:     test bl, 2
        jz .b
        or eax, FL_PF
.b:     test bl, 4
        jz .c
        or eax, FL_ZF
.c:     test bl, 8
        jz .d
        or eax, FL_SF
.d:     test bl, 16
        jz .e
        or eax, FL_OF
.e:     mov [flags], eax
        SHOWFLAGS "", eax, FL_OF | FL_SF | FL_ZF | FL_PF | FL_CF

        ; SETcc
        call space
%assign cc 0
%rep 16
        push dword [flags]
        popfd
        db 0x0F, 0x90 + cc, 0xC0        ; setcc al
        add al, '0'
        call putc
%assign cc cc + 1
%endrep
        ; CMOVcc r32, r32
        call space
%assign cc 0
%rep 16
        mov eax, '0'
        mov ecx, '1'
        push dword [flags]
        popfd
        db 0x0F, 0x40 + cc, 0xC1        ; cmovcc eax, ecx
        call putc
%assign cc cc + 1
%endrep
        ; CMOVcc r16, m16
        call space
%assign cc 0
%rep 16
        mov eax, '0'
        push dword [flags]
        popfd
        db 0x66, 0x0F, 0x40 + cc, 0x05  ; cmovcc ax, [one_char]
        dd one_char
        call putc
%assign cc cc + 1
%endrep
        ; Jcc
        call space
%assign cc 0
%rep 16
        mov al, '1'
        push dword [flags]
        popfd
        db 0x70 + cc, 2                 ; jcc +2 (skip the mov)
        mov al, '0'
        call putc
%assign cc cc + 1
%endrep
        NL
        inc ebx
        cmp ebx, 32
        jb .combo
        ret

section .data
align 4
flags:          dd 0
one_char:       dw '1'
section .text
