; 32 back to real mode and back again (Intel SDM Vol. 3A 9.9.2): a far jump
; to a 16-bit code segment with a 64 KiB limit, 64 KiB data segments, LIDT
; with the real-mode interrupt vector table, CR0.PE=0, a far jump to a real
; CS; then real-mode work: 16-bit and 32-bit arithmetic, segment*16+offset
; addressing, far CALL/RET, INT n and a #DE through the IVT (the saved IP of
; #DE points at the DIV), CR0 read in real mode, printing through COM1 port
; I/O.  Then CR0.PE=1 and a far jump back into the 32-bit code segment.
; No BIOS is used.  The real-mode code runs from this image with CS = DS =
; SS = 0xFFFF (linear 0xFFFF0 + offset reaches the first 64 KiB above 1 MiB).
%define TEST_TITLE "32 return to real mode and back"
%include "boot.inc"

RSEG    equ 0xFFFF
%define OFS(x) ((x) - mb_header + 0x10)   ; = x - 0xFFFF0, as a plain number (mb_header is at 0x100000)

main:
        ; save the IVT entries we will replace (vectors 0 and 0x80)
        mov eax, [0 * 4]
        mov [saved_ivt0], eax
        mov eax, [0x80 * 4]
        mov [saved_ivt80], eax
        mov dword [0 * 4], (RSEG << 16) | OFS(rm_de_handler)
        mov dword [0x80 * 4], (RSEG << 16) | OFS(rm_int80)

        cli
        mov [pm_esp], esp
        GDT_DESC KCODE16, 0xFFFF0, 0xFFFF, ACC_CODE, 0  ; base matches CS=0xFFFF
        lidt [rm_idt]                   ; the real-mode IVT (no exceptions until
                                        ; we are in real mode)
        jmp KCODE16:OFS(pm16)           ; 16-bit protected mode
bits 16
pm16:   mov ax, KDATA16                 ; 64 KiB, byte granular, writable
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov eax, cr0
        and eax, ~CR0_PE
        mov cr0, eax
        jmp RSEG:OFS(real)              ; loads a real-mode CS
real:   mov ax, RSEG
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, OFS(rm_stack_top)
        xor ax, ax
        mov fs, ax
        mov gs, ax

        mov si, OFS(s_hello)
        call rm_puts
        mov eax, cr0
        mov si, OFS(s_cr0)
        call rm_puts
        call rm_hex16                   ; low 16 bits: PE=0
        call rm_nl

        ; arithmetic, 16 and 32 bit
        mov ax, 0x7FFF
        add ax, 2
        pushf
        mov si, OFS(s_add)
        call rm_puts
        call rm_hex16
        pop ax
        and ax, FL_OF | FL_SF | FL_ZF | FL_CF
        mov si, OFS(s_flags)
        call rm_puts
        call rm_hex16
        mov eax, 0x12345678
        mov ebx, 0x10
        mul ebx
        mov si, OFS(s_mul)
        call rm_puts
        mov ax, dx
        call rm_hex16
        mov si, OFS(s_colon)
        call rm_puts
        mov eax, 0x12345678
        shl eax, 4
        shr eax, 16
        call rm_hex16
        call rm_nl

        ; segment arithmetic: 0x1000:0x2345 and 0x1234:0x0005 address
        ; linear 0x12345 and 0x12345
        mov ax, 0x1000
        mov es, ax
        mov byte [es:0x2345], 0x5A
        mov ax, 0x1234
        mov fs, ax
        mov al, [fs:0x0005]
        mov si, OFS(s_seg)
        call rm_puts
        xor ah, ah
        call rm_hex16
        call rm_nl

        ; far call / far return
        call RSEG:OFS(rm_far_proc)
        mov si, OFS(s_far)
        call rm_puts
        call rm_hex16
        call rm_nl

        ; INT 0x80 through the IVT
        mov ax, 0x0080
        int 0x80
rm_after_int:
        mov si, OFS(s_int)
        call rm_puts
        call rm_hex16
        call rm_nl

        ; #DE through the IVT: the handler reports the saved IP
        mov ax, 1
        xor bl, bl
rm_div: div bl
        mov si, OFS(s_after)
        call rm_puts
        call rm_nl

        ; back to protected mode
        cli
        mov eax, cr0
        or eax, CR0_PE
        mov cr0, eax
        jmp dword KCODE:pm_back
bits 32
pm_back:
        mov ax, KDATA
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov esp, [pm_esp]
        lidt [idt_desc]
        mov eax, [saved_ivt0]
        mov [0 * 4], eax
        mov eax, [saved_ivt80]
        mov [0x80 * 4], eax
        PRINT "back in protected mode:"
        mov eax, cr0
        and eax, CR0_PE | CR0_PG
        SHOW32 "cr0.pe|pg=", eax
        mov ax, cs
        SHOW16 "cs=", ax
        NL
        PRINT "ints still work: "
        TRY .x
        int3
        ENDTRY
.x:     ret

bits 16
; ---- real-mode helpers (DS = RSEG) ----
rm_putc:                        ; AL
        push dx
        push ax
        mov dx, COM1 + 5
.w:     in al, dx
        test al, 0x20
        jz .w
        pop ax
        mov dx, COM1
        out dx, al
        pop dx
        ret
rm_puts:                        ; DS:SI
        push ax
        push si
.n:     lodsb
        test al, al
        jz .d
        call rm_putc
        jmp .n
.d:     pop si
        pop ax
        ret
rm_nl:  push ax
        mov al, 10
        call rm_putc
        pop ax
        ret
rm_hex16:                       ; AX
        push ax
        push cx
        push bx
        mov bx, ax
        mov cx, 4
.h:     rol bx, 4
        mov al, bl
        and al, 0x0F
        add al, '0'
        cmp al, '9'
        jbe .p
        add al, 'a' - '0' - 10
.p:     call rm_putc
        loop .h
        pop bx
        pop cx
        pop ax
        ret
rm_far_proc:
        mov ax, 0xFA12
        retf
rm_int80:                       ; INT 0x80: report the saved CS:IP, return AX+1
        push bp
        mov bp, sp
        push si
        mov si, OFS(s_int80)
        call rm_puts
        push ax
        mov ax, [bp + 4]        ; saved CS
        call rm_hex16
        mov si, OFS(s_colon)
        call rm_puts
        mov ax, [bp + 2]        ; saved IP
        sub ax, OFS(rm_after_int)
        call rm_hex16           ; 0 if it points right after the INT
        call rm_nl
        pop ax
        inc ax
        pop si
        pop bp
        iret
rm_de_handler:                  ; #DE: saved IP = the DIV; skip it (2 bytes)
        push bp
        mov bp, sp
        push si
        push ax
        mov si, OFS(s_de)
        call rm_puts
        mov ax, [bp + 2]
        sub ax, OFS(rm_div)
        call rm_hex16           ; 0: points at the DIV (a fault)
        call rm_nl
        add word [bp + 2], 2
        pop ax
        pop si
        pop bp
        iret
bits 32

section .text
align 4
rm_idt:         dw 0x3FF
                dd 0
pm_esp:         dd 0
saved_ivt0:     dd 0
saved_ivt80:    dd 0
s_hello:        db "real mode: hello from 16-bit code", 10, 0
s_cr0:          db "cr0 low word=", 0
s_add:          db "7fff+2=", 0
s_flags:        db " O S Z C flags=", 0
s_mul:          db " eax*16 (edx:high word of eax)=", 0
s_colon:        db ":", 0
s_seg:          db "0x1234:0005 reads what 0x1000:2345 wrote=", 0
s_far:          db "far call returned ax=", 0
s_int:          db "int 0x80 returned ax=", 0
s_int80:        db "  in int 0x80: saved cs:ip-after_int=", 0
s_de:           db "  #DE: saved ip-div=", 0
s_after:        db "continued after the div", 0
                times 512 db 0
rm_stack_top:
