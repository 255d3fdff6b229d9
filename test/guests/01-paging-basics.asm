; 01 paging basics: 4 KiB pages, an identity map, aliases, INVLPG after a PTE
; change, switching CR3 between two page directories, and an unaligned access
; that spans two pages backed by unrelated frames.
%define TEST_TITLE "01 paging basics"
%include "boot.inc"
%include "paging.inc"

ALIAS   equ 0x400000            ; linear addresses in the 4-8 MiB window

main:
        ; Fill two physical frames with recognisable patterns (paging is off).
        mov dword [frame_a], 0x11111111
        mov dword [frame_a + 4], 0xAAAA0004
        mov dword [frame_a + 0xFFC], 0xAAAA0FFC
        mov dword [frame_b], 0x22222222
        mov dword [frame_b + 0xFFC], 0xBBBB0FFC

        call paging_init
        mov eax, ALIAS
        mov ebx, frame_a + (PG_P | PG_RW)
        call map_page
        call paging_on
        mov eax, cr0
        and eax, CR0_PG | CR0_PE
        SHOW32 "cr0.pg|pe=", eax
        mov eax, cr3
        cmp eax, pg_dir
        sete al
        SHOW8 "cr3==pg_dir:", al
        NL

        ; Still running: the code is identity mapped.  Read through the alias.
        SHOW32 "alias[0]=", [ALIAS]
        SHOW32 "alias[4]=", [ALIAS + 4]
        SHOW32 "alias[ffc]=", [ALIAS + 0xFFC]
        NL
        ; Write through the alias, read through the identity map.
        mov dword [ALIAS + 8], 0xCAFEBABE
        SHOW32 "frame_a[8] via identity=", [frame_a + 8]
        NL

        ; Point the alias at frame B: INVLPG (inside map_page) makes the new
        ; translation visible.
        mov eax, ALIAS
        mov ebx, frame_b + (PG_P | PG_RW)
        call map_page
        SHOW32 "after remap alias[0]=", [ALIAS]
        SHOW32 "alias[ffc]=", [ALIAS + 0xFFC]
        NL

        ; A dword that straddles two linear pages: bytes 0xFFE-0xFFF of the
        ; first page (frame B) and bytes 0-1 of the next page (frame A).
        mov eax, ALIAS + 0x1000
        mov ebx, frame_a + (PG_P | PG_RW)
        call map_page
        SHOW32 "straddle read=", [ALIAS + 0xFFE]
        mov dword [ALIAS + 0xFFE], 0x44443333
        SHOW32 "frame_b[ffc]=", [frame_b + 0xFFC]
        SHOW32 "frame_a[0]=", [frame_a]
        NL

        ; A second page directory: it shares the identity table but has its own
        ; table for 4-8 MiB, where ALIAS maps frame A.
        mov dword [pg_dir2 + 0], pg_tab0 + (PG_P | PG_RW | PG_US)
        mov dword [pg_dir2 + 4], pg_tab2 + (PG_P | PG_RW | PG_US)
        mov dword [pg_tab2], frame_a + (PG_P | PG_RW)
        mov eax, pg_dir2
        mov cr3, eax            ; loading CR3 flushes all non-global translations
        SHOW32 "cr3=dir2 alias[0]=", [ALIAS]
        mov eax, pg_dir
        mov cr3, eax
        SHOW32 "cr3=dir1 alias[0]=", [ALIAS]
        NL

        ; Change a PDE (not just a PTE) and reload CR3: the whole 4 MiB region
        ; now goes through the other table.
        mov dword [pg_dir + 4], pg_tab2 + (PG_P | PG_RW | PG_US)
        mov eax, cr3
        mov cr3, eax
        SHOW32 "pde swapped alias[0]=", [ALIAS]
        mov dword [pg_dir + 4], pg_tab1 + (PG_P | PG_RW | PG_US)
        mov eax, cr3
        mov cr3, eax
        SHOW32 "pde restored alias[0]=", [ALIAS]
        NL

        ; Turn paging off again: linear = physical, the alias is gone.
        call paging_off
        mov eax, cr0
        and eax, CR0_PG | CR0_PE
        SHOW32 "paging off cr0.pg|pe=", eax
        SHOW32 "frame_a[8]=", [frame_a + 8]
        NL
        ret

section .bss
alignb 4096
frame_a:        resb 4096
frame_b:        resb 4096
pg_dir2:        resb 4096
pg_tab2:        resb 4096
section .text
