; 02 page faults: the #PF error code (bit 0 P: protection violation vs not
; present, bit 1 W/R: write, bit 2 U/S: CPL 3) and CR2 for not-present pages,
; read-only pages at CPL 3 and at CPL 0 with CR0.WP off and on, supervisor
; pages touched from ring 3, page-directory-level U/S and R/W bits, instruction
; fetches and stack pushes (in ring 3, so the handler runs on the TSS stack).  Bit 4 (I/D) stays 0: it is only reported with
; PAE+NX or SMEP, which we don't enable.
%define TEST_TITLE "02 page fault error codes and CR2"
%include "boot.inc"
%include "paging.inc"

RO_PAGE   equ 0x400000          ; user, read-only
SUP_PAGE  equ 0x401000          ; supervisor, writable
NP_PAGE   equ 0x402000          ; not present
URW_PAGE  equ 0x403000          ; user, writable
PDE_SUP   equ 0x800000          ; PDE U/S=0 over a PTE with U/S=1
PDE_RO    equ 0xC00000          ; PDE R/W=0 over a PTE with R/W=1
NO_PDE    equ 0x1000000         ; PDE not present

; After an expected #PF: print CR2 (the faulting linear address).
%macro PF_DETAIL 0
        SHOW32 "  cr2=", [exc_cr2]
        NL
%endmacro

main:
        call paging_init
        mov eax, RO_PAGE
        mov ebx, frame_ro + (PG_P | PG_US)
        call map_page
        mov eax, SUP_PAGE
        mov ebx, frame_sup + (PG_P | PG_RW)
        call map_page
        mov eax, URW_PAGE
        mov ebx, frame_urw + (PG_P | PG_RW | PG_US)
        call map_page
        mov dword [pg_dir + (PDE_SUP >> 22) * 4], pg_tab_x + (PG_P | PG_RW)
        mov dword [pg_tab_x], frame_urw + (PG_P | PG_RW | PG_US)
        mov dword [pg_dir + (PDE_RO >> 22) * 4], pg_tab_y + (PG_P | PG_US)
        mov dword [pg_tab_y], frame_urw + (PG_P | PG_RW | PG_US)
        mov dword [frame_ro], 0x0000AA55
        call paging_on

        PRINTLN "-- ring 0, CR0.WP=0"
        PRINT "read not-present: "
        TRY .c1
        mov eax, [NP_PAGE + 0x10]
        ENDTRY
.c1:    PF_DETAIL
        PRINT "write not-present: "
        TRY .c2
        mov dword [NP_PAGE + 0x24], 1
        ENDTRY
.c2:    PF_DETAIL
        PRINT "read, no PDE: "
        TRY .c3
        mov al, [NO_PDE + 0x123]
        ENDTRY
.c3:    PF_DETAIL
        PRINT "write read-only page: "
        TRY .c4
        mov dword [RO_PAGE + 8], 0x12345678
        ENDTRY
.c4:    SHOW32 "  value=", [RO_PAGE + 8]
        NL
        PRINT "write through read-only PDE: "
        TRY .c4b
        mov dword [PDE_RO + 12], 0x0BADF00D
        ENDTRY
.c4b:   SHOW32 "  value=", [PDE_RO + 12]
        NL
        PRINT "fetch from not-present: "
        TRY .c5
        call NP_PAGE + 0x40
        ENDTRY
.c5:    PF_DETAIL

        PRINTLN "-- ring 0, CR0.WP=1"
        mov eax, cr0
        or eax, CR0_WP
        mov cr0, eax
        PRINT "write read-only page: "
        TRY .w1
        mov dword [RO_PAGE + 8], 0x9ABCDEF0
        ENDTRY
.w1:    PF_DETAIL
        SHOW32 "  value unchanged=", [RO_PAGE + 8]
        NL
        PRINT "write through read-only PDE: "
        TRY .w2
        mov byte [PDE_RO + 12], 0
        ENDTRY
.w2:    PF_DETAIL
        PRINT "write supervisor page: "
        TRY .w3
        mov dword [SUP_PAGE], 0x5050
        ENDTRY
.w3:
        PRINT "read-modify-write (add) read-only page: "
        TRY .w4
        add dword [RO_PAGE + 8], 1
        ENDTRY
.w4:    PF_DETAIL
        mov eax, cr0
        and eax, ~CR0_WP
        mov cr0, eax

        PRINTLN "-- ring 3"
        %macro USER_CASE 2
        PRINT %1
        TRY %%r
        mov ebx, %2
        call user_call
        ENDTRY
        jmp %%done
%%r:    SHOW32 "  cr2=", [exc_cr2]
        SHOW32 "cs=", [exc_cs]
        NL
%%done:
        %endmacro
        USER_CASE "read user page: ", u_read_ro
        USER_CASE "read supervisor page: ", u_read_sup
        USER_CASE "write supervisor page: ", u_write_sup
        USER_CASE "write read-only page: ", u_write_ro
        USER_CASE "read not-present: ", u_read_np
        USER_CASE "write not-present: ", u_write_np
        USER_CASE "read via supervisor PDE: ", u_read_pde_sup
        USER_CASE "write via read-only PDE: ", u_write_pde_ro
        USER_CASE "write user page: ", u_write_urw
        ; (a ring 0 push would need the #PF handler on another stack: in ring 3
        ; the CPU switches to ESP0 first)
        USER_CASE "push into not-present stack: ", u_push_np
        mov eax, cr0
        or eax, CR0_WP
        mov cr0, eax
        USER_CASE "write read-only page, WP=1: ", u_write_ro
        mov eax, cr0
        and eax, ~CR0_WP
        mov cr0, eax
        call paging_off
        ret

; ---- ring 3 snippets (each either faults or returns with RET0) ----
u_read_ro:
        mov eax, [RO_PAGE]
        RET0
u_read_sup:
        mov eax, [SUP_PAGE + 0x30]
        RET0
u_write_sup:
        mov dword [SUP_PAGE + 0x34], 0
        RET0
u_write_ro:
        mov word [RO_PAGE + 0x38], 0
        RET0
u_read_np:
        mov eax, [NP_PAGE + 0x3C]
        RET0
u_write_np:
        mov dword [NP_PAGE + 0x40], 0
        RET0
u_read_pde_sup:
        mov eax, [PDE_SUP + 0x44]
        RET0
u_write_pde_ro:
        mov dword [PDE_RO + 0x48], 0
        RET0
u_write_urw:
        mov dword [URW_PAGE + 0x4C], 0
        RET0
u_push_np:
        mov esp, NP_PAGE + 0x1000
        push dword 0x55
        RET0

section .bss
alignb 4096
frame_ro:       resb 4096
frame_sup:      resb 4096
frame_urw:      resb 4096
pg_tab_x:       resb 4096
pg_tab_y:       resb 4096
section .text
