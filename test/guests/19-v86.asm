; 19 virtual-8086 mode: entering V86 with an IRET whose EFLAGS image has VM=1
; (it also pops ES DS FS GS), real-mode style addressing (segment*16 + offset),
; the sensitive instructions that trap to the ring 0 monitor as #GP(0) when
; IOPL < 3 (CLI, STI, INT n, PUSHF, POPF; HLT always), I/O governed by the
; TSS bitmap rather than IOPL, and with IOPL=3: CLI/STI/PUSHF run directly and
; INT n goes through the IDT to ring 0, pushing GS FS DS ES SS ESP EFLAGS CS
; EIP and clearing DS ES FS GS.  The V86 code runs from this image with
; CS=DS=SS=0xFFFF (linear 0xFFFF0 + offset reaches the first 64 KiB above
; 1 MiB; A20 is on).  No CR4.VME.
%define TEST_TITLE "19 virtual-8086 mode"
%include "boot.inc"

V86SEG     equ 0xFFFF
%define OFS(x) ((x) - 0xFFFF0)

main:
        IDT_GATE 13, v86_monitor, GATE_INT32
        IDT_GATE 0x21, v86_int21, GATE_INT32 | GATE_DPL3
        PRINTLN "-- IOPL 0"
        mov dword [v86_iopl], 0
        call run_v86
        call report
        PRINTLN "-- IOPL 3"
        mov dword [v86_iopl], FL_IOPL3
        call run_v86
        call report
        IDT_RESTORE 13
        ret

; Enter V86 at v86_code; returns when the V86 code executes HLT.
run_v86:
        mov [monitor_esp], esp
        push dword 0                    ; GS
        push dword 0                    ; FS
        push dword V86SEG                  ; DS
        push dword V86SEG                  ; ES
        push dword V86SEG                  ; SS
        push dword OFS(v86_stack_top)   ; ESP
        mov eax, 0x2 | FL_VM | FL_IF
        or eax, [v86_iopl]
        push eax                        ; EFLAGS
        push dword V86SEG                  ; CS
        push dword OFS(v86_code)        ; EIP
        iretd

; #GP handler.  From V86 mode the frame is: error, EIP, CS, EFLAGS, ESP, SS,
; ES, DS, FS, GS (DS..GS now hold 0).
v86_monitor:
        pushad
        mov ebp, esp
        mov ax, KDATA
        mov ds, ax
        mov es, ax
        ; [ebp+32] error, +36 EIP, +40 CS, +44 EFLAGS, +48 ESP, +52 SS; EAX at +28
        test dword [ebp + 44], FL_VM
        jnz .v86
        PRINTLN "unexpected #GP outside V86"
        EXIT EXIT_FAIL
.v86:   movzx esi, word [ebp + 40]
        shl esi, 4
        add esi, [ebp + 36]             ; linear CS:IP
        movzx ebx, byte [esi]           ; the opcode
        PRINT "  monitor: #GP"
        SHOW16 "err=", [ebp + 32]
        SHOW16 "at=", [ebp + 40]
        PRINT ":"
        push eax
        mov eax, [ebp + 36]
        call puthex16
        pop eax
        SHOW8 "op=", bl
        cmp bl, 0xFA
        je .cli
        cmp bl, 0xFB
        je .sti
        cmp bl, 0xCD
        je .int
        cmp bl, 0x9C
        je .pushf
        cmp bl, 0xE6
        je .out
        cmp bl, 0xF4
        je .hlt
        PRINTLN " unknown"
        EXIT EXIT_FAIL
.cli:   PRINTLN " cli: virtual IF=0"
        mov byte [vif], 0
        inc dword [ebp + 36]
        jmp .resume
.sti:   PRINTLN " sti: virtual IF=1"
        mov byte [vif], 1
        inc dword [ebp + 36]
        jmp .resume
.pushf: PRINTLN " pushf: push FLAGS with the virtual IF"
        mov eax, [ebp + 44]             ; the real flags ...
        and eax, ~FL_IF & 0xFFFF
        cmp byte [vif], 0
        je .noif
        or eax, FL_IF
.noif:  movzx edi, word [ebp + 52]      ; ... pushed on the V86 stack SS:SP
        shl edi, 4
        sub word [ebp + 48], 2
        movzx ecx, word [ebp + 48]
        mov [edi + ecx], ax
        inc dword [ebp + 36]
        jmp .resume
.int:   movzx eax, byte [esi + 1]
        SHOW8 "int=", al
        mov eax, [ebp + 28]             ; the V86 code's EAX (pushad slot)
        SHOW16 "ax=", ax
        PRINTLN " -> emulated: ax=2121"
        mov word [ebp + 28], 0x2121
        add dword [ebp + 36], 2
        jmp .resume
.out:   movzx eax, byte [esi + 1]
        SHOW8 "out port=", al
        PRINTLN " (denied by the bitmap): skipped"
        add dword [ebp + 36], 2
        jmp .resume
.hlt:   PRINTLN " hlt: leave V86"
        mov esp, [monitor_esp]
        ret
.resume:
        popad
        add esp, 4                      ; error code
        iretd                           ; back to V86 (pops ES DS FS GS too)

; INT 0x21 from V86 with IOPL=3 arrives here through the IDT (DPL 3 gate).
; Frame: EIP CS EFLAGS ESP SS ES DS FS GS.
v86_int21:
        mov [ss:seen_ds], ds            ; what the CPU left in DS and ES: 0
        mov [ss:seen_es], es
        push ebp
        mov ebp, esp
        push eax
        mov ax, KDATA
        mov ds, ax
        PRINT "  ring 0 INT 21h handler:"
        SHOW16 "cs=", [ebp + 8]
        mov eax, [ebp + 12]
        and eax, FL_VM | FL_IOPL3
        SHOW32 "eflags.vm|iopl=", eax
        SHOW16 "ss=", [ebp + 20]
        SHOW16 "es=", [ebp + 24]
        SHOW16 "ds=", [ebp + 28]
        SHOW16 "fs=", [ebp + 32]
        SHOW16 "gs=", [ebp + 36]
        NL
        SHOW16 "  ds,es on entry=", [seen_ds]
        SHOW16 "", [seen_es]
        NL
        pop eax
        mov ax, 0x4242
        pop ebp
        iretd

; ---- V86 code (16-bit; offsets relative to segment 0xFFFF) ----
bits 16
v86_code:
        mov ax, cs
        mov [OFS(r_cs)], ax
        mov ax, 0x1234
        add ax, 0x1111
        mov [OFS(r_sum)], ax
        mov ax, [OFS(v86_word)]         ; DS:offset
        mov [OFS(r_word)], ax
        mov dx, 0x3FF                   ; allowed by the bitmap (any IOPL)
        mov al, 0x66
        out dx, al
        cli
        pushf
        pop ax
        mov [OFS(r_flags)], ax
        sti
        mov ax, 0x2100
        int 0x21
        mov [OFS(r_int)], ax
        out 0x80, al                    ; denied by the bitmap
        mov dx, 0x3FF
        in al, dx
        mov [OFS(r_scratch)], al
        hlt                             ; always #GP in V86
bits 32

report:
        PRINT "V86 results:"
        SHOW16 "cs=", [r_cs]
        SHOW16 "sum=", [r_sum]
        SHOW16 "ds:word=", [r_word]
        mov ax, [r_flags]
        and ax, FL_IF | FL_IOPL3
        SHOW16 "pushf.if|iopl=", ax
        SHOW16 "int21 ax=", [r_int]
        SHOW8 "scratch=", [r_scratch]
        NL
        ret

section .data
align 4
monitor_esp:    dd 0
v86_iopl:       dd 0
seen_ds:        dd 0
seen_es:        dd 0
vif:            db 1
section .text
; V86-visible data must be within 64 KiB of 0xFFFF0: keep it in .text
align 4
v86_word:       dw 0xBEEF
r_cs:           dw 0
r_sum:          dw 0
r_word:         dw 0
r_flags:        dw 0
r_int:          dw 0
r_scratch:      dw 0
                times 256 db 0
v86_stack_top:
