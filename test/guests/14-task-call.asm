; 14 hardware task switches by CALL, task gates and IRET: CALL to a TSS and
; INT through an IDT task gate both set NT in the new task, write the back
; link, and leave the caller busy; IRET with NT=1 returns to the back-linked
; task, clears the returning task's busy bit and the NT bit in its saved
; EFLAGS; a nested chain main -> B -> C -> B -> main; calling a busy task
; (the caller itself, or a task up the chain) is #GP(selector).
%define TEST_TITLE "14 task switch by CALL, task gate, IRET"
%include "boot.inc"
%include "task.inc"

TSS_B   equ GDT_FREE + 0x00
TSS_C   equ GDT_FREE + 0x08
V_TASKC equ 0x40                ; IDT task gate -> TSS_C

%macro SHOWBUSY 0
        mov ax, TSS_SEL
        call busy_bit
        SHOW8 "busy main/B/C=", al
        mov ax, TSS_B
        call busy_bit
        SHOW8 "", al
        mov ax, TSS_C
        call busy_bit
        SHOW8 "", al
%endmacro

%macro SHOWSELF 0               ; TR, NT, back link of the current task
        str ax
        SHOW16 "tr=", ax
        pushfd
        pop eax
        and eax, FL_NT
        SHOW32 "nt=", eax
        movzx eax, ax
        str ax
        cmp ax, TSS_B
        je %%b
        cmp ax, TSS_C
        je %%c
        SHOW16 "link=", [tss_main + TSS_LINK]
        jmp %%d
%%b:    SHOW16 "link=", [tss_b + TSS_LINK]
        jmp %%d
%%c:    SHOW16 "link=", [tss_c + TSS_LINK]
%%d:
%endmacro

main:
        mov edi, tss_b
        mov ebx, task_b
        mov ecx, stack_b_top
        call make_tss
        mov edi, tss_c
        mov ebx, task_c
        mov ecx, stack_c_top
        call make_tss
        GDT_DESC TSS_B, tss_b, TSS_SIZE - 1, ACC_TSS, 0
        GDT_DESC TSS_C, tss_c, TSS_SIZE - 1, ACC_TSS, 0
        IDT_GATE V_TASKC, TSS_C, GATE_TASK

        PRINT "main:"
        SHOWSELF
        SHOWBUSY
        NL
        mov dword [mode], 1
        call TSS_B:0                    ; B runs, IRETs back
        PRINT "main after call B:"
        SHOWSELF
        SHOWBUSY
        NL
        mov eax, [tss_b + TSS_EFLAGS]
        and eax, FL_NT
        SHOW32 "  B's saved eflags.nt=", eax
        SHOWREL "B's saved eip=", [tss_b + TSS_EIP], b_after_iret
        NL

        mov dword [mode], 2
        int V_TASKC                     ; C through the task gate
        PRINT "main after int (task gate C):"
        SHOWSELF
        SHOWBUSY
        NL

        mov dword [mode], 3             ; B calls C, C returns, B returns
        call TSS_B:0
        PRINT "main after nested chain:"
        SHOWSELF
        SHOWBUSY
        NL
        SHOW16 "  C's link=", [tss_c + TSS_LINK]
        SHOW32 "trace=", [trace]
        NL

        PRINT "main calls itself (busy): "
        TRY .busy
        call TSS_SEL:0
        ENDTRY
.busy:  mov dword [mode], 4             ; B tries to call main (busy)
        call TSS_B:0
        clts
        ret

; ---- task B: loops, doing what [mode] says, IRET back each time ----
task_b:
        PRINT "  B:"
        SHOWSELF
        SHOWBUSY
        NL
        shl dword [trace], 4
        or dword [trace], 0xB
        cmp dword [mode], 3
        jne .not3
        call TSS_C:0
        PRINT "  B after C:"
        SHOWSELF
        SHOWBUSY
        NL
        shl dword [trace], 4
        or dword [trace], 0xB
.not3:  cmp dword [mode], 4
        jne .ret
        PRINT "  B calls main (busy): "
        TRY .rec
        call TSS_SEL:0
        ENDTRY
.rec:   pushfd                          ; the #GP handler's gate cleared NT:
        or dword [esp], FL_NT           ; set it again for the task return
        popfd
.ret:   iretd
b_after_iret:
        jmp task_b

; ---- task C ----
task_c:
        PRINT "  C:"
        SHOWSELF
        SHOWBUSY
        NL
        shl dword [trace], 4
        or dword [trace], 0xC
        iretd
        jmp task_c

section .data
align 4
mode:           dd 0
trace:          dd 0
section .bss
alignb 16
tss_b:          resb TSS_SIZE
tss_c:          resb TSS_SIZE
alignb 16
                resb 4096
stack_b_top:
                resb 4096
stack_c_top:
section .text
