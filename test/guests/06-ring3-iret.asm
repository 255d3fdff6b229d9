; 06 ring 3 via IRET and back via an interrupt gate: the IRET frame (EIP CS
; EFLAGS ESP SS), data segment registers that IRET nulls because their DPL is
; below the new CPL (but not a conforming code segment), the stack switch to
; TSS.SS0:ESP0 on INT from ring 3 and the frame pushed there, a ring 0 handler
; that IRETs back to ring 3, POPF in ring 3 not changing IOPL or IF, and
; privileged instructions in ring 3 raising #GP(0).
%define TEST_TITLE "06 ring 3 via IRET, back via interrupt gate"
%include "boot.inc"

CONF_CODE equ GDT_FREE          ; readable conforming code segment, DPL 0

main:
        GDT_DESC CONF_CODE, 0, 0xFFFFF, 0x9E, DF_G | DF_D
        IDT_GATE 0x31, add_handler, GATE_INT32 | GATE_DPL3
        call enter_by_hand      ; returns when the ring 3 code does RET0
        PRINTLN "back in ring 0"
        SHOW16 "ring 3 saw: cs=", [r3_cs]
        SHOW16 "ss=", [r3_ss]
        SHOW16 "ds=", [r3_ds]
        SHOW16 "es=", [r3_es]
        SHOW16 "fs=", [r3_fs]
        SHOW16 "gs=", [r3_gs]
        NL
        SHOWREL "esp=", [r3_esp], user_stack_top
        SHOW32 "eflags=", [r3_eflags]
        SHOW32 "after popf=", [r3_popf]
        NL
        SHOW32 "int 0x31 handler: eax=", [r3_eax]
        SHOWREL "ring 0 esp=", [h_esp], ring0_stack_top
        SHOWREL "ring 3 esp after iret=", [r3_esp2], user_stack_top
        NL
        PRINT "RET0 frame:"
        SHOWREL "eip=", [user_frame_eip], after_ret0
        SHOW16 "cs=", [user_frame_cs]
        SHOW32 "eflags=", [user_frame_eflags]
        SHOWREL "esp=", [user_frame_esp], user_stack_top
        SHOW16 "ss=", [user_frame_ss]
        NL
        SHOWREL "ring 0 esp after the switch=", [user_frame_r0esp], ring0_stack_top
        NL

        PRINTLN "privileged instructions in ring 3:"
        %macro PRIV 2
        PRINT %1
        TRY %%r
        mov ebx, %2
        call user_call
        ENDTRY
%%r:
        %endmacro
        PRIV "hlt: ", u_hlt
        PRIV "cli: ", u_cli
        PRIV "mov eax, cr0: ", u_movcr
        PRIV "lgdt: ", u_lgdt
        PRIV "lidt: ", u_lidt
        PRIV "mov dr7, eax: ", u_movdr
        PRIV "clts: ", u_clts
        PRIV "wbinvd: ", u_wbinvd
        PRIV "sgdt (allowed): ", u_sgdt
        ret

; Enter ring 3 by hand: DS and FS get ring 3 data, ES ring 0 data (DPL 0 <
; CPL 3: IRET loads a null selector instead), GS the DPL 0 conforming code
; segment (kept: conforming code is exempt).
enter_by_hand:
        mov [user_saved_esp], esp       ; where RET0 (ring3.inc) returns to
        mov ax, UDATA
        mov ds, ax
        mov fs, ax
        mov ax, KDATA
        mov es, ax
        mov ax, CONF_CODE
        mov gs, ax
        push dword UDATA                ; SS
        push dword user_stack_top - 16  ; ESP
        push dword 0x2                  ; EFLAGS: IOPL 0, IF 0
        push dword UCODE                ; CS
        push dword ring3_entry          ; EIP
        iretd

ring3_entry:
        ; CPL 3 now.  Record what we see (DS is the flat ring 3 data segment).
        mov [r3_cs], cs
        mov [r3_ss], ss
        mov [r3_ds], ds
        mov [r3_es], es
        mov [r3_fs], fs
        mov [r3_gs], gs
        mov [r3_esp], esp
        pushfd
        pop dword [r3_eflags]
        ; Try to set IOPL=3 and IF=1 with POPF: at CPL 3 > IOPL both are
        ; silently left alone (no fault); CF does change.
        push dword 0x2 | FL_IOPL3 | FL_IF | FL_CF
        popfd
        pushfd
        pop dword [r3_popf]
        push dword 0x2
        popfd
        ; A round trip through a DPL 3 interrupt gate whose handler IRETs back
        mov eax, 40
        int 0x31
        mov [r3_eax], eax
        mov [r3_esp2], esp
        RET0
after_ret0:

add_handler:
        ; ring 0 on the TSS stack: EIP CS EFLAGS ESP SS
        mov [ss:h_esp], esp
        add eax, 2
        iretd

u_hlt:  hlt
        RET0
u_cli:  cli
        RET0
u_movcr:
        mov eax, cr0
        RET0
u_lgdt: lgdt [gdt_desc]
        RET0
u_lidt: lidt [idt_desc]
        RET0
u_movdr:
        xor eax, eax
        mov dr7, eax
        RET0
u_clts: clts
        RET0
u_wbinvd:
        wbinvd
        RET0
u_sgdt: sgdt [u_sgdt_buf]
        RET0

section .data
align 4
saved_esp:      dd 0
r3_cs:          dd 0
r3_ss:          dd 0
r3_ds:          dd 0
r3_es:          dd 0
r3_fs:          dd 0
r3_gs:          dd 0
r3_esp:         dd 0
r3_eflags:      dd 0
r3_popf:        dd 0
r3_eax:         dd 0
r3_esp2:        dd 0
h_esp:          dd 0
u_sgdt_buf:     dq 0
section .text
