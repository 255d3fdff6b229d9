; 05 accessed and dirty bits: the CPU sets A in the PDE and PTE it uses, and D
; in the PTE (or the 4 MiB PDE) that maps a written page.  Software clears
; them and invalidates (INVLPG / CR3 reload) so the next access sets them
; again.  Printed: PTE & 0x60 (D,A), PDE & 0x20 (A) for 4 KiB mappings (a
; PDE's D bit is ignored there), PDE & 0x60 for 4 MiB pages.  Accesses that
; fault are not used: whether they set A is not architecturally fixed.
%define TEST_TITLE "05 accessed and dirty bits"
%include "boot.inc"
%include "paging.inc"

LIN     equ 0x400000
LIN_X   equ 0x401000            ; a page we execute from
BIG     equ 0x00800000          ; a 4 MiB page

%macro SHOWAD 0
        mov eax, [PTE(LIN)]
        and eax, PG_A | PG_D
        SHOW8 "pte.DA=", al
        mov eax, [pg_dir + (LIN >> 22) * 4]
        and eax, PG_A
        SHOW8 "pde.A=", al
        NL
%endmacro

; Clear A and D everywhere LIN depends on and flush the TLB
%macro CLEARAD 0
        and dword [PTE(LIN)], ~(PG_A | PG_D)
        and dword [pg_dir + (LIN >> 22) * 4], ~(PG_A | PG_D)
        mov eax, cr3
        mov cr3, eax
%endmacro

main:
        call paging_init
        mov eax, LIN
        mov ebx, frame_1 + (PG_P | PG_RW | PG_US)
        call map_page
        mov eax, LIN_X
        mov ebx, frame_2 + (PG_P | PG_RW)
        call map_page
        mov eax, cr4
        or eax, CR4_PSE
        mov cr4, eax
        mov dword [pg_dir + (BIG >> 22) * 4], 0x400000 + (PG_P | PG_RW | PG_PS)
        call paging_on

        CLEARAD
        PRINT "fresh: "
        SHOWAD
        mov eax, [LIN + 0x10]
        PRINT "after read: "
        SHOWAD
        mov dword [LIN + 0x10], 1
        PRINT "after write: "
        SHOWAD
        CLEARAD
        mov byte [LIN + 0x20], 2
        PRINT "cleared, write only: "
        SHOWAD
        ; clearing D alone (A stays 1) with INVLPG: the next write sets D again
        and dword [PTE(LIN)], ~PG_D
        invlpg [LIN]
        mov eax, [LIN]
        PRINT "D cleared, read: "
        SHOWAD
        add dword [LIN], 5
        PRINT "then read-modify-write: "
        SHOWAD
        CLEARAD
        PRINT "ring 3 read: "
        mov ebx, user_read
        call user_call
        SHOWAD
        CLEARAD
        ; software may pre-set the bits; they stay set
        or dword [PTE(LIN)], PG_A | PG_D
        invlpg [LIN]
        mov eax, [LIN]
        PRINT "preset by software: "
        SHOWAD

        ; Instruction fetch sets A but not D.  Put a RET in the page through the
        ; identity map (the frame's physical address), then call it via LIN_X.
        mov byte [frame_2], 0xC3
        and dword [PTE(LIN_X)], ~(PG_A | PG_D)
        invlpg [LIN_X]
        call LIN_X
        mov eax, [PTE(LIN_X)]
        and eax, PG_A | PG_D
        SHOW8 "execute: pte.DA=", al
        NL

        ; 4 MiB page: A and D live in the PDE itself
        and dword [pg_dir + (BIG >> 22) * 4], ~(PG_A | PG_D)
        invlpg [BIG]
        mov eax, [pg_dir + (BIG >> 22) * 4]
        and eax, PG_A | PG_D
        SHOW8 "4M fresh: pde.DA=", al
        mov eax, [BIG + 0x1234]
        mov eax, [pg_dir + (BIG >> 22) * 4]
        and eax, PG_A | PG_D
        SHOW8 "read: pde.DA=", al
        mov dword [BIG + 0x3FF000], 0
        mov eax, [pg_dir + (BIG >> 22) * 4]
        and eax, PG_A | PG_D
        SHOW8 "write: pde.DA=", al
        NL
        call paging_off
        ret

user_read:
        mov eax, [LIN + 0x40]
        RET0

section .bss
alignb 4096
frame_1:        resb 4096
frame_2:        resb 4096
section .text
