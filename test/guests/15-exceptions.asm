; 15 exceptions without error codes and where their saved EIP points:
; faults (#DE, #BR, #UD, #NM) point at the faulting instruction and leave
; its destination registers unchanged; traps (#BP from INT3 and INT 3, #OF
; from INTO, and INT n for any vector) point after the instruction.  Also:
; which instructions raise #UD (UD2, LOCK with a register destination, MOV
; to CR1, MOV DR4 with CR4.DE=1) and when WAIT and x87
; instructions raise #NM (CR0.TS, CR0.EM, CR0.MP).
; QEMU quirk: QEMU 7.2 ignores LOCK on MOV (real CPUs: #UD), so that case
; is left out.
%define TEST_TITLE "15 exceptions: faults vs traps"
%include "boot.inc"

; CASE "text", label — protected instruction(s) start at label
%macro CASE 2
        PRINT %1
        mov dword [exc_vector], 0xFF
        TRY %%rec
        jmp %2
%%rec:  call report
        cmp dword [exc_vector], 0xFF
        je %%none
        SHOWREL "eip=", [exc_eip], %2
%%none: NL
%endmacro

main:
        mov dword [exc_quiet], 1
        PRINTLN "-- #DE (fault)"
        CASE "div ecx, ecx=0:", l_div0
        SHOW32 "  eax=", eax
        SHOW32 "edx=", edx
        NL
        CASE "div, quotient too big:", l_divbig
        SHOW32 "  eax=", eax
        SHOW32 "edx=", edx
        NL
        CASE "idiv 0x80000000 / -1:", l_idivmin
        CASE "div bl (8-bit), bl=0:", l_div8
        SHOW16 "  ax=", ax
        NL
        CASE "idiv bx, 0x80000000 / 1 (16-bit):", l_idiv16
        CASE "aam 0:", l_aam0

        PRINTLN "-- #BR (fault)"
        CASE "bound below:", l_bound_lo
        CASE "bound above:", l_bound_hi
        CASE "bound inside:", l_bound_in
        CASE "bound 16-bit above:", l_bound16

        PRINTLN "-- #UD (fault)"
        CASE "ud2:", l_ud2
        CASE "lock add reg, reg:", l_lockreg
        CASE "lock add [mem], reg (valid):", l_lockmem
        CASE "mov cr1, eax:", l_cr1
        mov eax, cr4
        or eax, CR4_DE
        mov cr4, eax
        CASE "mov eax, dr4 with CR4.DE=1:", l_dr4
        mov eax, cr4
        and eax, ~CR4_DE
        mov cr4, eax
        CASE "mov eax, dr4 with CR4.DE=0 (= dr6):", l_dr4

        PRINTLN "-- traps"
        CASE "int3:", l_int3
        CASE "int 3:", l_int_3
        CASE "into, OF=1:", l_into1
        CASE "into, OF=0:", l_into0
        CASE "int 0 (software):", l_int0
        CASE "int 6 (software):", l_int6

        PRINTLN "-- #NM (fault)"
        mov eax, cr0
        or eax, CR0_TS
        mov cr0, eax
        CASE "TS=1 MP=1: fld1:", l_fld1
        CASE "TS=1 MP=1: wait:", l_wait
        and eax, ~CR0_MP
        mov cr0, eax
        CASE "TS=1 MP=0: wait:", l_wait
        and eax, ~CR0_TS
        or eax, CR0_EM | CR0_MP
        mov cr0, eax
        CASE "EM=1 MP=1 TS=0: fld1:", l_fld1
        CASE "EM=1 MP=1 TS=0: wait:", l_wait
        and eax, ~CR0_EM
        mov cr0, eax
        CASE "EM=0 TS=0: fld1:", l_fld1
        fninit
        mov dword [exc_quiet], 0
        ret

; report: "#vv" (or "none") after a CASE
report:
        cmp dword [exc_vector], 0xFF
        jne .exc
        PRINT " none"
        ret
.exc:   SHOW8 "vec=", [exc_vector]
        ret

; ---- the protected instructions; each ends by jumping to the recovery
; label itself if it did not fault ----
%macro NOFAULT 0
        jmp [exc_recover_eip]
%endmacro

l_div0: mov eax, 0x1234
        mov edx, 0x5678
        xor ecx, ecx
        div ecx
        NOFAULT
l_divbig:
        mov eax, 0
        mov edx, 2
        mov ecx, 2                      ; 2^33 / 2 = 2^32: too big
        div ecx
        NOFAULT
l_idivmin:
        mov eax, 0x80000000
        cdq
        mov ecx, -1
        idiv ecx
        NOFAULT
l_div8: mov ax, 0x0403
        xor bl, bl
        div bl
        NOFAULT
l_idiv16:
        mov dx, 0x8000
        xor ax, ax
        mov bx, 1
        idiv bx
        NOFAULT
l_aam0: aam 0
        NOFAULT
l_bound_lo:
        mov eax, 9
        bound eax, [bounds]
        NOFAULT
l_bound_hi:
        mov eax, 21
        bound eax, [bounds]
        NOFAULT
l_bound_in:
        mov eax, 20
        bound eax, [bounds]
        NOFAULT
l_bound16:
        mov ax, 0x0101
        bound ax, [bounds16]
        NOFAULT
l_ud2:  ud2
        NOFAULT
l_lockreg:
        db 0xF0, 0x01, 0xD8             ; lock add eax, ebx
        NOFAULT
l_lockmem:
        lock add [scratch], eax
        NOFAULT
l_cr1:  db 0x0F, 0x22, 0xC8             ; mov cr1, eax
        NOFAULT
l_dr4:  mov eax, dr4
        NOFAULT
l_int3: int3
        NOFAULT
l_int_3:
        db 0xCD, 0x03                   ; int 3 (two-byte form)
        NOFAULT
l_into1:
        mov al, 0x7F
        inc al                          ; OF=1
        into
        NOFAULT
l_into0:
        xor eax, eax                    ; OF=0
        into
        NOFAULT
l_int0: int 0
        NOFAULT
l_int6: int 6
        NOFAULT
l_fld1: fld1
        NOFAULT
l_wait: wait
        NOFAULT

section .data
align 4
bounds:         dd 10, 20
bounds16:       dw 0x0010, 0x0100
scratch:        dd 0
section .text
