; 04 TLB invalidation that is architecturally guaranteed (Intel SDM Vol. 3A
; 4.10.4): after a PTE changes, the new translation must be used after
;   INVLPG (also for a global page), a CR3 write (non-global pages, or any
;   page while CR4.PGE=0), a CR4.PGE toggle (all pages), CR0.PG 1->0->1;
; no invalidation is needed when P goes 0->1, and a #PF invalidates the
; faulting address's entries (so retrying after fixing the PTE works).
; What a CPU *may* still use without invalidation (a stale entry) is not
; printed: caching is optional, and QEMU's TLB differs from real ones.
%define TEST_TITLE "04 global pages and INVLPG"
%include "boot.inc"
%include "paging.inc"

LIN     equ 0x400000            ; the page we keep remapping
LIN2    equ 0x401000

; SETPTE flags-and-frame — rewrite LIN's PTE without any invalidation
%macro SETPTE 1
        mov dword [PTE(LIN)], %1
%endmacro

main:
        mov dword [frame_1], 0x11111111
        mov dword [frame_2], 0x22222222
        call paging_init
        mov eax, cr4
        or eax, CR4_PGE
        mov cr4, eax
        mov eax, cr4
        and eax, CR4_PGE
        SHOW32 "cr4.pge=", eax
        NL
        call paging_on

        PRINTLN "-- non-global page"
        SETPTE frame_1 + (PG_P | PG_RW)
        invlpg [LIN]
        SHOW32 "start=", [LIN]
        SETPTE frame_2 + (PG_P | PG_RW)
        invlpg [LIN]
        SHOW32 "invlpg=", [LIN]
        SETPTE frame_1 + (PG_P | PG_RW)
        mov eax, cr3
        mov cr3, eax
        SHOW32 "cr3 reload=", [LIN]
        NL

        PRINTLN "-- global page (G=1, CR4.PGE=1)"
        SETPTE frame_1 + (PG_P | PG_RW | PG_G)
        invlpg [LIN]
        SHOW32 "start=", [LIN]
        SETPTE frame_2 + (PG_P | PG_RW | PG_G)
        invlpg [LIN]
        SHOW32 "invlpg=", [LIN]
        SETPTE frame_1 + (PG_P | PG_RW | PG_G)
        mov eax, cr4            ; toggling PGE flushes everything, global too
        and eax, ~CR4_PGE
        mov cr4, eax
        or eax, CR4_PGE
        mov cr4, eax
        SHOW32 "pge toggle=", [LIN]
        SETPTE frame_2 + (PG_P | PG_RW | PG_G)
        call paging_off         ; CR0.PG 1->0 flushes everything
        call paging_on
        SHOW32 "pg off/on=", [LIN]
        NL

        PRINTLN "-- G=1 while CR4.PGE=0 (no global pages)"
        mov eax, cr4
        and eax, ~CR4_PGE
        mov cr4, eax
        SETPTE frame_1 + (PG_P | PG_RW | PG_G)
        invlpg [LIN]
        SHOW32 "start=", [LIN]
        SETPTE frame_2 + (PG_P | PG_RW | PG_G)
        mov eax, cr3
        mov cr3, eax
        SHOW32 "cr3 reload=", [LIN]
        NL

        PRINTLN "-- P 0->1 needs no invalidation"
        SETPTE frame_1 + PG_RW  ; not present
        invlpg [LIN]
        PRINT "read: "
        TRY .np
        mov eax, [LIN]
        ENDTRY
.np:    SETPTE frame_1 + (PG_P | PG_RW)
        SHOW32 "after setting P=", [LIN]
        NL

        PRINTLN "-- a #PF invalidates the faulting address"
        SETPTE frame_2 + (PG_P | PG_US)  ; read-only user page
        invlpg [LIN]
        mov dword [PTE(LIN2)], frame_2 + (PG_P | PG_RW | PG_US)
        invlpg [LIN2]
        PRINT "ring 3 read=" 
        mov ebx, user_read
        call user_call
        call puthex32
        NL
        PRINT "ring 3 write: "
        TRY .pf
        mov ebx, user_write
        call user_call
        ENDTRY
.pf:    SETPTE frame_2 + (PG_P | PG_RW | PG_US)   ; now writable; no INVLPG
        PRINT "retry: "
        mov ebx, user_write
        call user_call
        PRINTLN "ok"
        SHOW32 "value via other page=", [LIN2 + 4]
        NL

        PRINTLN "-- INVLPG of an unmapped address does not fault"
        SETPTE 0
        TRY .iv
        invlpg [LIN]
        invlpg [0x7FFFF000]     ; no page directory entry at all
        ENDTRY
.iv:
        PRINT "INVLPG in ring 3: "
        TRY .iv3
        mov ebx, user_invlpg
        call user_call
        ENDTRY
.iv3:   call paging_off
        mov eax, cr4
        and eax, ~CR4_PGE
        mov cr4, eax
        ret

user_read:
        mov eax, [LIN]
        RET0
user_write:
        mov dword [LIN + 4], 0x600D600D
        RET0
user_invlpg:
        invlpg [LIN]
        RET0

section .bss
alignb 4096
frame_1:        resb 4096
frame_2:        resb 4096
section .text
