; 18 I/O privilege: at CPL 3 with IOPL < 3, IN/OUT/INS/OUTS consult the I/O
; permission bitmap in the TSS (every bit covering the access must be 0, and
; a bitmap byte beyond the TSS limit counts as 1); CLI/STI need CPL <= IOPL;
; with IOPL=3 everything is allowed and POPF may change IF.  Ports used: COM1's
; scratch register 0x3FF (written, then read back) and 0x80 (writes only).
; Multi-byte accesses are only made where the bitmap denies them (a word
; write to the UART would even abort QEMU 7.2: its serial model asserts
; byte-sized accesses).
%define TEST_TITLE "18 IOPL and the I/O permission bitmap"
%include "boot.inc"

BITMAP  equ tss_main + TSS_SIZE

; UCASE "text", code, eflags — run code in ring 3 with the given EFLAGS
%macro UCASE 3
        PRINT %1
        mov dword [user_eflags], %3
        TRY %%r
        mov ebx, %2
        call user_call
        ENDTRY
%%r:
%endmacro

; Reload TR after changing the TSS descriptor (LTR needs it "available")
%macro RELOAD_TR 0
        and byte [gdt + TSS_SEL + 5], ~0x02
        mov ax, TSS_SEL
        ltr ax
%endmacro

main:
        mov dx, 0x3FF
        mov al, 0x5A
        out dx, al
        PRINTLN "-- IOPL 0, bitmap allows 0x3f8-0x3ff only"
        UCASE "out 0x3ff (allowed): ", u_out_scratch, 0x2
        mov dx, 0x3FF
        in al, dx
        SHOW8 "  scratch now=", al
        NL
        UCASE "in 0x3ff (allowed): ", u_in_scratch, 0x2
        SHOW8 "  al=", [u_value]
        NL
        UCASE "out 0x80: ", u_out80, 0x2
        UCASE "word out at 0x3ff (0x400 denied): ", u_out_word, 0x2
        UCASE "rep outsb to 0x80: ", u_outs80, 0x2
        UCASE "cli: ", u_cli, 0x2
        UCASE "sti: ", u_sti, 0x2
        mov byte [BITMAP + (0x80 >> 3)], ~0x01      ; allow port 0x80
        UCASE "after allowing 0x80, out 0x80: ", u_out80, 0x2
        UCASE "rep outsb to 0x80: ", u_outs80, 0x2
        UCASE "word out at 0x80 (0x81 denied): ", u_out80w, 0x2
        mov byte [BITMAP + (0x80 >> 3)], 0xFF

        PRINTLN "-- IOPL 1 (still CPL > IOPL)"
        UCASE "out 0x3ff: ", u_out_scratch, 0x2 | (1 << 12)
        UCASE "out 0x80: ", u_out80, 0x2 | (1 << 12)
        UCASE "cli: ", u_cli, 0x2 | (1 << 12)

        PRINTLN "-- IOPL 3"
        UCASE "out 0x80: ", u_out80, 0x2 | FL_IOPL3
        UCASE "cli, sti: ", u_cli_sti, 0x2 | FL_IOPL3
        UCASE "popf IF=1: ", u_popf_if, 0x2 | FL_IOPL3
        mov eax, [u_value]
        and eax, FL_IF
        SHOW32 "  if=", eax
        NL

        PRINTLN "-- TSS limit"
        ; Shrink the TSS so that the bitmap byte for 0x3F8-0x3FF lies beyond it
        mov word [gdt + TSS_SEL], TSS_SIZE + (0x3F8 >> 3) - 1
        RELOAD_TR
        UCASE "bitmap byte beyond the limit, out 0x3ff: ", u_out_scratch, 0x2
        ; No bitmap at all: I/O map base at the limit
        mov word [gdt + TSS_SEL], TSS_MAIN_LIMIT
        mov word [tss_main + TSS_IOMAP], TSS_MAIN_LIMIT + 1
        RELOAD_TR
        UCASE "I/O map base beyond the limit, out 0x3ff: ", u_out_scratch, 0x2
        mov word [tss_main + TSS_IOMAP], TSS_SIZE
        UCASE "bitmap restored, out 0x3ff: ", u_out_scratch, 0x2
        mov dword [user_eflags], 0x2
        PRINTLN "-- ring 0 ignores the bitmap"
        mov byte [BITMAP + (COM1 >> 3)], 0xFF
        mov dx, 0x3FF
        mov al, 0x77
        out dx, al
        in al, dx
        SHOW8 "ring 0 scratch=", al
        NL
        mov byte [BITMAP + (COM1 >> 3)], 0
        ret

; ---- ring 3 ----
u_out_scratch:
        mov dx, 0x3FF
        mov al, 0xA5
        out dx, al
        RET0
u_in_scratch:
        mov dx, 0x3FF
        in al, dx
        mov [u_value], al
        RET0
u_out80:
        mov al, 0x18
        out 0x80, al
        RET0
u_out80w:
        mov ax, 0x1818
        out 0x80, ax
        RET0
u_out_word:
        mov dx, 0x3FF
        mov ax, 0x1234
        out dx, ax
        RET0
u_outs80:
        mov esi, u_value
        mov ecx, 2
        mov dx, 0x80
        rep outsb
        RET0
u_cli:  cli
        RET0
u_sti:  sti
        RET0
u_cli_sti:
        cli
        sti
        cli
        RET0
u_popf_if:
        push dword 0x2 | FL_IOPL3 | FL_IF
        popfd
        pushfd
        pop dword [u_value]
        push dword 0x2 | FL_IOPL3
        popfd
        RET0

section .data
align 4
u_value:        dd 0
section .text
