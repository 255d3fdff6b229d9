; 16 debug exceptions (#DB, vector 1): single-stepping with EFLAGS.TF (a
; trap after each instruction, the saved EIP is the next instruction, also
; across a taken jump, a CALL and a RET; the instruction that sets TF is
; not trapped; DR6.BS set), and hardware breakpoints: an execute breakpoint
; (fault: EIP = the breakpoint, resumed with EFLAGS.RF=1), a data write
; breakpoint and a data read/write breakpoint (traps: EIP after the access),
; with DR6.B0-B3.  The handler clears DR6 each time (it is sticky).
; QEMU quirk avoided: QEMU does not suppress the single-step trap after
; MOV SS / POP SS (real CPUs delay it by one instruction), so no MOV SS here.
%define TEST_TITLE "16 debug: single step and breakpoints"
%include "boot.inc"

MAXREC  equ 16

; Print the records: EIP as a label name, DR6 & 0x400F
%macro SHOWRECS 0
        mov ecx, [count]
        xor esi, esi
%%next: jecxz %%done
        mov eax, [recs + esi * 8]
        call sep
        call putlabel
        mov eax, [recs + esi * 8 + 4]
        and eax, 0x400F
        SHOW16 "dr6=", ax
        NL
        inc esi
        dec ecx
        jmp %%next
%%done:
%endmacro

main:
        IDT_GATE 1, db_handler, GATE_INT32
        xor eax, eax
        mov dr6, eax
        PRINTLN "-- single step"
        mov dword [count], 0
        pushfd
        or dword [esp], FL_TF
        popfd                           ; no trap after this one
s0:     nop
s1:     add eax, 1
s2:     jmp short s4
s3:     nop                             ; skipped
s4:     call sub1
s5:     pushfd
s6:     and dword [esp], ~FL_TF
s7:     popfd                           ; TF was 1 when it started: trapped
s8:     nop                             ; not trapped
        SHOWRECS

        PRINTLN "-- breakpoints (DR0 execute, DR1 write dword, DR2 read/write byte)"
        mov dword [count], 0
        mov eax, bp_exec
        mov dr0, eax
        mov eax, wvar
        mov dr1, eax
        mov eax, rvar + 2
        mov dr2, eax
        ; DR7: L0 L1 L2; RW0=00 (execute) LEN0=00; RW1=01 (write) LEN1=11
        ; (4 bytes); RW2=11 (read or write) LEN2=00 (1 byte)
        mov eax, (1 << 0) | (1 << 2) | (1 << 4) | (0b01 << 20) | (0b11 << 22) | (0b11 << 24)
        mov dr7, eax
        nop
bp_exec:
        nop                             ; #DB before this executes
b1:     mov dword [wvar], 5             ; #DB after this
b2:     mov eax, [wvar]                 ; (reads don't match a write breakpoint)
b3:     mov al, [rvar]                  ; byte 0: no match
b4:     mov al, [rvar + 2]              ; #DB after this
b5:     mov eax, [rvar]                 ; dword covering byte 2: #DB
b6:     xor eax, eax
        mov dr7, eax
        SHOWRECS
        ret

sub1:   ret

; putlabel: print the name of the label at address EAX (from `labels`),
; or the address in hex if it is not there
putlabel:
        pushad
        mov esi, labels
.next:  mov ebx, [esi]
        test ebx, ebx
        jz .hex
        cmp ebx, eax
        je .found
        add esi, 8
        jmp .next
.found: mov esi, [esi + 4]
        call puts
        popad
        ret
.hex:   call puthex32
        popad
        ret

; Record EIP and DR6, clear DR6, set RF so an execute breakpoint at the
; return address is not hit again, and stop after MAXREC entries.
db_handler:
        push eax
        push ebx
        mov ebx, [count]
        mov eax, [esp + 8]              ; saved EIP
        mov [recs + ebx * 8], eax
        mov eax, dr6
        mov [recs + ebx * 8 + 4], eax
        xor eax, eax
        mov dr6, eax
        inc ebx
        mov [count], ebx
        cmp ebx, MAXREC
        jb .ok
        mov dr7, eax                    ; runaway: stop everything
        and dword [esp + 16], ~FL_TF
.ok:    or dword [esp + 16], FL_RF      ; saved EFLAGS
        pop ebx
        pop eax
        iretd

section .data
%macro LABEL 1
        dd %1, %%name
[section .text]
%%name: db %str(%1), 0
__SECT__
%endmacro
labels:
        LABEL s0
        LABEL s1
        LABEL s2
        LABEL s3
        LABEL s4
        LABEL s5
        LABEL s6
        LABEL s7
        LABEL s8
        LABEL sub1
        LABEL bp_exec
        LABEL b1
        LABEL b2
        LABEL b3
        LABEL b4
        LABEL b5
        LABEL b6
        dd 0
align 16
count:          dd 0
align 16
wvar:           dd 0
align 16
rvar:           dd 0x44332211
align 16
recs:           times MAXREC * 2 dd 0
section .text
