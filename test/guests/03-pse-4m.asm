; 03 4 MiB pages (CR4.PSE): a PDE with PS=1 maps 4 MiB directly, next to
; PDEs that still point to 4 KiB page tables; two large-page aliases of the
; same physical 4 MiB; the last dword of a large page; #PF on large pages
; (not present, read-only with WP, supervisor from ring 3); and with
; CR4.PSE=0 the PS bit is ignored, so the same PDE is a page-table pointer.
; Physical addresses stay below 2^32 and 4 MiB aligned (PDE bits 21:13 = 0),
; so PSE-36 (which QEMU's CPU model has and visor86 lacks) makes no difference.
%define TEST_TITLE "03 4 MiB pages (PSE)"
%include "boot.inc"
%include "paging.inc"

BIG_A   equ 0x00800000          ; 4 MiB page -> physical 4 MiB
BIG_B   equ 0x00C00000          ; 4 MiB page -> physical 4 MiB (alias)
BIG_RO  equ 0x01000000          ; 4 MiB page, read-only, supervisor
BIG_NP  equ 0x01400000          ; PS=1 but P=0
PHYS    equ 0x00400000

main:
        call paging_init
        mov eax, cr4
        or eax, CR4_PSE
        mov cr4, eax
        mov eax, cr4
        and eax, CR4_PSE
        SHOW32 "cr4.pse=", eax
        NL
        ; Large pages.  PDE 0 (identity 0-4 MiB) becomes a 4 MiB page too.
        mov dword [pg_dir + 0], 0 + (PG_P | PG_RW | PG_US | PG_PS)
        mov dword [pg_dir + (BIG_A >> 22) * 4], PHYS + (PG_P | PG_RW | PG_US | PG_PS)
        mov dword [pg_dir + (BIG_B >> 22) * 4], PHYS + (PG_P | PG_RW | PG_US | PG_PS)
        mov dword [pg_dir + (BIG_RO >> 22) * 4], PHYS + (PG_P | PG_PS)
        mov dword [pg_dir + (BIG_NP >> 22) * 4], PHYS + PG_PS
        ; and a 4 KiB page in the 4-8 MiB table, mapping the same frame
        mov dword [pg_tab1 + 0x123 * 4], PHYS + 0x5000 + (PG_P | PG_RW | PG_US)
        call paging_on
        PRINTLN "paging on, still running through the 4 MiB identity page"

        mov dword [BIG_A + 0x5010], 0x600DCAFE
        mov dword [BIG_A + 0x3FFFFC], 0x1A57D00D
        SHOW32 "big_b[5010]=", [BIG_B + 0x5010]
        SHOW32 "small alias=", [0x400000 + 0x123000 + 0x10]
        SHOW32 "big_b[3ffffc]=", [BIG_B + 0x3FFFFC]
        NL
        mov dword [BIG_B + 0x200000], 0x0000B16B
        SHOW32 "big_a[200000]=", [BIG_A + 0x200000]
        SHOW32 "big_ro[200000]=", [BIG_RO + 0x200000]
        NL

        PRINT "not-present 4M page: "
        TRY .f1
        mov eax, [BIG_NP + 0x1234]
        ENDTRY
.f1:    SHOW32 "  cr2=", [exc_cr2]
        NL
        PRINT "write read-only 4M page, WP=0: "
        TRY .f2
        mov dword [BIG_RO + 0x100], 0x77
        ENDTRY
.f2:    mov eax, cr0
        or eax, CR0_WP
        mov cr0, eax
        PRINT "write read-only 4M page, WP=1: "
        TRY .f3
        mov dword [BIG_RO + 0x104], 0x77
        ENDTRY
.f3:    SHOW32 "  cr2=", [exc_cr2]
        NL
        mov eax, cr0
        and eax, ~CR0_WP
        mov cr0, eax
        PRINT "ring 3 read supervisor 4M page: "
        TRY .f4
        mov ebx, user_read_ro
        call user_call
        ENDTRY
.f4:    SHOW32 "  cr2=", [exc_cr2]
        NL
        PRINT "ring 3 read user 4M page: "
        TRY .f5
        mov ebx, user_read_a
        call user_call
        ENDTRY
.f5:    SHOW32 "  eax=", eax
        NL

        ; CR4.PSE=0: PS is ignored; the PDE's frame is used as a page table.
        ; Build one at a 4 KiB-aligned frame and point PDE 5 at it with PS set.
        call paging_off
        mov dword [pg_dir + 0], pg_tab0 + (PG_P | PG_RW | PG_US)
        mov dword [pg_dir + (BIG_NP >> 22) * 4], pg_tab_z + (PG_P | PG_RW | PG_US | PG_PS)
        mov dword [pg_tab_z + 7 * 4], PHYS + 0x5000 + (PG_P | PG_RW)
        mov eax, cr4
        and eax, ~CR4_PSE
        mov cr4, eax
        call paging_on
        SHOW32 "pse=0: via table=", [BIG_NP + 0x7000 + 0x10]
        NL
        call paging_off
        ret

user_read_ro:
        mov eax, [BIG_RO + 0x200000]
        RET0
user_read_a:
        mov eax, [BIG_A + 0x5010]
        RET0

section .bss
alignb 4096
pg_tab_z:       resb 4096
section .text
