; 13 hardware task switches by JMP: JMP to a TSS descriptor and to a task
; gate in the GDT.  Checked: the new task starts with the registers, EFLAGS,
; segments, LDTR and CR3 stored in its TSS; TR changes; JMP clears the old
; task's busy bit and sets the new one's; NT is not set and the back link is
; not written; CR0.TS is set; the old task's state (EIP after the JMP, its
; registers) is saved in its TSS, so jumping back resumes it, and jumping to
; the second task again resumes that one after its own JMP.
%define TEST_TITLE "13 task switch by JMP"
%include "boot.inc"
%include "paging.inc"
%include "task.inc"

TSS_B   equ GDT_FREE + 0x00
GATE_B  equ GDT_FREE + 0x08     ; task gate -> TSS_B
LDT_B   equ GDT_FREE + 0x10     ; task B's LDT
LIN     equ 0x400000            ; mapped differently in the two tasks

; SHOWTASKS: TR and the busy bits of both TSS descriptors
%macro SHOWTASKS 0
        str ax
        SHOW16 "tr=", ax
        mov ax, TSS_SEL
        call busy_bit
        SHOW8 "busy(main)=", al
        mov ax, TSS_B
        call busy_bit
        SHOW8 "busy(B)=", al
%endmacro

main:
        ; Paging: the main task sees frame_main at LIN, task B (own CR3) frame_b.
        mov dword [frame_main], 0x3A3A3A3A
        mov dword [frame_b], 0x0B0B0B0B
        call paging_init
        mov eax, LIN
        mov ebx, frame_main + (PG_P | PG_RW)
        call map_page
        mov dword [pg_dir_b + 0], pg_tab0 + (PG_P | PG_RW | PG_US)
        mov dword [pg_dir_b + 4], pg_tab_b + (PG_P | PG_RW | PG_US)
        mov dword [pg_tab_b], frame_b + (PG_P | PG_RW)
        call paging_on
        ; CR3 and LDTR are not saved by a task switch, only loaded: the main
        ; TSS must hold the right CR3 for the way back.
        mov dword [tss_main + TSS_CR3], pg_dir

        ; Task B: starts at task_b with its own registers, flags, LDT, CR3.
        mov edi, tss_b
        mov ebx, task_b
        mov ecx, stack_b_top
        call make_tss
        mov dword [tss_b + TSS_EAX], 0xB000000A
        mov dword [tss_b + TSS_ECX], 0xB000000C
        mov dword [tss_b + TSS_ESI], 0xB0000051
        mov dword [tss_b + TSS_EFLAGS], 0x2 | FL_CF | FL_ZF | FL_DF
        mov dword [tss_b + TSS_FS], 0x04 | 4    ; LDT entry 0, TI=1
        mov dword [tss_b + TSS_LDTR], LDT_B
        mov dword [tss_b + TSS_CR3], pg_dir_b
        GDT_DESC TSS_B, tss_b, TSS_SIZE - 1, ACC_TSS, 0
        GDT_GATE GATE_B, 0, TSS_B, GATE_TASK, 0
        GDT_DESC LDT_B, ldt_b, 8 - 1, ACC_LDT, 0
        ; LDT entry 0: data segment with base 0x1000 (so fs:0 = linear 0x1000)
        mov edi, ldt_b
        mov ebx, fs_target
        mov ecx, 0xFFF
        mov dl, ACC_DATA
        mov dh, DF_D
        call make_desc
        mov dword [fs_target], 0xF5F5F5F5

        PRINT "before:"
        SHOWTASKS
        NL
        mov eax, 0x3A000001             ; main's registers, saved by the switch
        mov ebx, 0x3A000002
        jmp TSS_B:0                     ; -> task_b (offset ignored)
back_1:
        mov [main_eax], eax
        mov [main_ebx], ebx
        PRINT "main resumed:"
        SHOW32 "eax=", [main_eax]
        SHOW32 "ebx=", [main_ebx]
        SHOWTASKS
        NL
        mov eax, cr0
        and eax, CR0_TS
        SHOW32 "cr0.ts=", eax
        clts
        SHOW16 "back link in B's TSS=", [tss_b + TSS_LINK]
        SHOWREL "B's saved eip=", [tss_b + TSS_EIP], b_resume
        SHOW32 "B's saved ecx=", [tss_b + TSS_ECX]
        NL
        SHOW32 "main sees LIN=", [LIN]
        sldt ax
        SHOW16 "ldtr=", ax
        NL
        jmp GATE_B:0                    ; through the task gate: B resumes
back_2:
        PRINT "main resumed again:"
        SHOWTASKS
        SHOW32 "B's counter=", [b_counter]
        NL
        clts
        call paging_off
        ret

; ---- task B ----
task_b:
        pushfd
        pop dword [b_flags]
        mov [b_eax], eax
        mov [b_ecx], ecx
        mov [b_esi], esi
        mov [b_esp], esp
        cld
        PRINT "in task B:"
        SHOW32 "eax=", [b_eax]
        SHOW32 "ecx=", [b_ecx]
        SHOW32 "esi=", [b_esi]
        mov eax, [b_flags]
        and eax, FL_ARITH | FL_DF | FL_NT | FL_IF
        SHOW32 "eflags=", eax
        NL
        SHOWREL "  esp=", [b_esp], stack_b_top
        SHOWTASKS
        NL
        SHOWREL "  main's saved eip=", [tss_main + TSS_EIP], back_1
        SHOW32 "eax=", [tss_main + TSS_EAX]
        SHOW32 "ebx=", [tss_main + TSS_EBX]
        SHOW16 "cs=", [tss_main + TSS_CS]
        NL
        SHOW32 "  B sees LIN=", [LIN]
        mov eax, cr3
        cmp eax, pg_dir_b
        sete al
        SHOW8 "cr3 is B's=", al
        sldt ax
        SHOW16 "ldtr=", ax
        mov ax, fs
        SHOW16 "fs=", ax
        SHOW32 "fs:0=", [fs:0]
        NL
        mov ecx, 0xB00000CC
        jmp TSS_SEL:0                   ; back to main (after its JMP)
b_resume:
        PRINT "task B resumed:"
        SHOW32 "ecx=", ecx
        NL
        inc dword [b_counter]
        jmp TSS_SEL:0

section .data
align 4
main_eax:       dd 0
main_ebx:       dd 0
b_flags:        dd 0
b_eax:          dd 0
b_ecx:          dd 0
b_esi:          dd 0
b_esp:          dd 0
b_counter:      dd 0
section .bss
alignb 4096
frame_main:     resb 4096
frame_b:        resb 4096
pg_dir_b:       resb 4096
pg_tab_b:       resb 4096
tss_b:          resb TSS_SIZE
ldt_b:          resb 8
fs_target:      resb 16
alignb 16
                resb 4096
stack_b_top:
section .text
