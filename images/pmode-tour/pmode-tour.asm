; =============================================================================
; pmode-tour — from real mode to protected mode, paging, ring 3 and a system
; call, one step at a time, explained on the serial console (COM1).
;
;   Step 1  real mode: segments and offsets
;   Step 2  the A20 gate: closed, then opened
;   Step 3  the GDT: segment descriptors, LGDT
;   Step 4  protected mode: CR0.PE and a far jump
;   Step 5  the IDT: exceptions (INT3) and a remapped timer interrupt
;   Step 6  paging: page directory, page tables, CR3, CR0.PG, a page fault
;           that the kernel answers by mapping a page on demand
;   Step 7  ring 3: a TSS, user pages, IRET to a user program, a privileged
;           instruction it may not run
;   Step 8  a system call: INT 80h from ring 3 into the kernel and back
;
; Before each step the tour waits for Enter on COM1.  It boots from a floppy;
; the boot sector (lib/bootsector.inc) loads the rest through the BIOS.
;
; Build: nasm -f bin -I ../lib/ -o pmode-tour.bin pmode-tour.asm
; =============================================================================

        org 0x7C00
        bits 16

%define BOOT_TITLE 'pmode-tour'
%include "bootsector.inc"

; GDT selectors: the byte offset of the entry in the GDT, plus the requested
; privilege level (RPL) in bits 0-1.
KERNEL_CODE     equ 0x08
KERNEL_DATA     equ 0x10
USER_CODE       equ 0x18 | 3
USER_DATA       equ 0x20 | 3
TSS_SEL         equ 0x28

; Physical memory we use (all below 640 KiB, all identity-mapped).
PAGE_DIR        equ 0x20000
PT_LOW          equ 0x21000     ; linear 0-4 MiB -> physical 0-4 MiB
PT_USER         equ 0x22000     ; linear 0x400000-... -> the user program
PT_HIGH         equ 0x23000     ; linear 0xC0000000-... -> the VGA screen
FREE_FRAMES     equ 0x24000     ; handed out by the page-fault handler
USER_FRAME      equ 0x40000     ; the user program's code ...
USER_STACK_FRAME equ 0x41000    ; ... and its stack
RING0_STACK     equ 0x80000     ; TSS.ESP0: the kernel stack for ring 3 traps
KERNEL_STACK    equ 0x90000     ; the tour's own stack

USER_BASE       equ 0x400000    ; where ring 3 sees its program (4 MiB)
VGA_ALIAS       equ 0xC0000000  ; where we map the VGA text screen
DEMAND_ADDRESS  equ 0xD0000000  ; nothing is mapped here until it is touched

; PAUSE "what Enter does": print a prompt and wait for Enter (real mode).
%macro RM_PAUSE 1
        RM_PRINT 10, '-- press Enter ', %1, ' --'
        call rm_wait_enter
%endmacro
%macro PAUSE 1
        PRINT 10, '-- press Enter ', %1, ' --'
        call wait_enter
%endmacro

stage2:
        jmp main16
%include "serial16.inc"

; rm_wait_enter: throw away what was typed before, then wait for CR or LF.
; Between looks at the UART we HLT: the BIOS's timer interrupt (18.2 times a
; second) wakes us up again.
rm_wait_enter:
        push ax
        push dx
.drain: mov dx, COM1 + UART_LSR
        in al, dx
        test al, LSR_DATA_READY
        jz .wait
        mov dx, COM1 + UART_DATA
        in al, dx
        jmp .drain
.wait:  mov dx, COM1 + UART_LSR
        in al, dx
        test al, LSR_DATA_READY
        jnz .key
        sti
        hlt
        jmp .wait
.key:   mov dx, COM1 + UART_DATA
        in al, dx
        cmp al, 13
        je .enter
        cmp al, 10
        jne .wait
.enter: mov al, 10
        call rm_putc
        mov al, 10
        call rm_putc
        pop dx
        pop ax
        ret

; =============================================================================
; Step 1: real mode.
; =============================================================================
main16:
        call rm_com1_init
        RM_PRINT 'pmode-tour: a walk from real mode to protected mode, paging, ring 3 and a system call', 10
        RM_PRINT 'Each step says what comes next; press Enter to take it.', 10, 10
        RM_PRINT '== Step 1 of 8: real mode ==', 10
        RM_PRINT 'The CPU starts out like an 8086 from 1978: 16-bit registers, 1 MiB of', 10
        RM_PRINT 'memory, no protection. An address is a segment and an offset, and the', 10
        RM_PRINT 'physical address is segment * 16 + offset.', 10
        RM_PRINT '  This code runs at CS:IP = '
        mov ax, cs
        call rm_hex16
        RM_PRINT ':'
        call .here
.here:  pop ax                      ; CALL pushed IP: a way to read IP
        call rm_hex16
        RM_PRINT ', physical address '
        mov bx, cs
        movzx ebx, bx
        shl ebx, 4
        movzx eax, ax
        add eax, ebx
        call rm_hex32
        RM_PRINT '.', 10
        RM_PRINT '  The interrupt vector table at address 0 has a segment:offset for each', 10
        RM_PRINT '  of the 256 interrupts; INT 10h (the BIOS video service) is at '
        mov ax, [0x10 * 4 + 2]
        call rm_hex16
        RM_PRINT ':'
        mov ax, [0x10 * 4]
        call rm_hex16
        RM_PRINT '.', 10
        RM_PRINT '  CR0 bit 0, PE (protection enable), is '
        mov eax, cr0
        and al, 1
        add al, '0'
        call rm_putc
        RM_PRINT '.', 10
        RM_PAUSE 'for step 2'

; =============================================================================
; Step 2: the A20 gate.
; =============================================================================
        RM_PRINT '== Step 2 of 8: the A20 gate ==', 10
        RM_PRINT 'The 8086 had 20 address lines, so FFFF:0010 (physical 100000h) wrapped', 10
        RM_PRINT 'around to 0. PCs can still do that for old programs: the A20 gate holds', 10
        RM_PRINT 'address line 20 at 0 until someone opens it.', 10
        RM_PRINT '  Right now A20 is '
        call report_a20
        RM_PRINT 10, '  Closing it (8042 output port bit 1, port 92h bit 1): A20 is '
        call a20_close
        call report_a20
        RM_PRINT 10, '  Opening it again through port 92h ("fast A20"): A20 is '
        in al, 0x92
        or al, 0x02                 ; bit 1 = A20; bit 0 must stay 0 (it resets!)
        and al, 0xFE
        out 0x92, al
        call report_a20
        RM_PRINT 10
        RM_PAUSE 'for step 3'
        jmp step3

; report_a20: write 00 to 0000:0500 and FF to FFFF:0510, then look at
; 0000:0500 again.  Without A20 both are physical address 0x500.
report_a20:
        push ds
        push es
        xor ax, ax
        mov ds, ax
        dec ax
        mov es, ax                  ; ES = FFFF
        mov byte [0x0500], 0x00
        mov byte [es:0x0510], 0xFF
        mov al, [0x0500]
        pop es
        pop ds
        cmp al, 0xFF
        je .off
        RM_PRINT 'on: 0000:0500 and FFFF:0510 are different bytes.'
        ret
.off:   RM_PRINT 'off: 0000:0500 and FFFF:0510 are the same byte.'
        ret

; a20_close: clear the A20 bit in the 8042's output port (command D0h reads
; it, D1h writes it) and in port 92h.  Either one can hold A20 open.
; Interrupts stay off meanwhile: the 8042's answer raises IRQ1, and the BIOS
; keyboard handler would take the byte before we could read it.
a20_close:
        pushf
        cli
        call kbc_wait_input
        mov al, 0xD0                ; read output port
        out 0x64, al
.full:  in al, 0x64
        test al, 0x01               ; output buffer full: the answer is there
        jz .full
        in al, 0x60
        and al, ~0x02 & 0xFF        ; A20 off (bit 0, "not reset", stays 1)
        mov ah, al
        call kbc_wait_input
        mov al, 0xD1                ; write output port
        out 0x64, al
        call kbc_wait_input
        mov al, ah
        out 0x60, al
        call kbc_wait_input
        in al, 0x92
        and al, ~0x03 & 0xFF
        out 0x92, al
        popf
        ret

kbc_wait_input:
        in al, 0x64
        test al, 0x02               ; input buffer full: the 8042 is busy
        jnz kbc_wait_input
        ret

; =============================================================================
; Step 3: the GDT.
; =============================================================================
step3:
        ; Fill in the TSS descriptor's base: it is split over three fields.
        mov eax, tss
        mov [gdt_tss + 2], ax       ; base bits 0-15
        shr eax, 16
        mov [gdt_tss + 4], al       ; base bits 16-23
        mov [gdt_tss + 7], ah       ; base bits 24-31

        RM_PRINT '== Step 3 of 8: the global descriptor table ==', 10
        RM_PRINT 'Protected mode replaces segment * 16 with descriptors: 8-byte entries in', 10
        RM_PRINT 'a table, the GDT, that give each segment a base, a limit, a type and a', 10
        RM_PRINT 'privilege level (ring 0 is the kernel, ring 3 user programs). A segment', 10
        RM_PRINT 'register then holds a selector: the entry offset, plus a privilege level', 10
        RM_PRINT 'in the low two bits. Our GDT (each entry as high:low dword):', 10
        mov si, gdt_notes
        xor bx, bx
.entry: RM_PRINT '  '
        mov al, bl
        call rm_hex8
        RM_PRINT '  '
        mov eax, [gdt + bx + 4]
        call rm_hex32
        RM_PRINT ':'
        mov eax, [gdt + bx]
        call rm_hex32
        RM_PRINT '  '
        call rm_puts                ; the note for this entry
.skip:  lodsb                       ; and on to the next note
        test al, al
        jnz .skip
        RM_PRINT 10
        add bx, 8
        cmp bx, gdt_end - gdt
        jb .entry
        lgdt [gdt_descriptor]
        RM_PRINT 'LGDT loaded the GDTR register with its base and limit: GDTR = '
        sgdt [scratch]
        mov eax, [scratch + 2]
        call rm_hex32
        RM_PRINT '/'
        mov ax, [scratch]
        call rm_hex16
        RM_PRINT '.', 10
        RM_PAUSE 'for step 4'

; =============================================================================
; Step 4: protected mode.
; =============================================================================
        RM_PRINT '== Step 4 of 8: protected mode ==', 10
        RM_PRINT 'Setting bit 0 of CR0 (PE) turns protection on. Interrupts go off first', 10
        RM_PRINT '(CLI): the BIOS handlers are real-mode code, and there is no IDT yet.', 10
        RM_PRINT 'A far jump to 0008:pm_start then loads CS with selector 08h, the 32-bit', 10
        RM_PRINT 'ring 0 code segment, and the CPU runs 32-bit code from there on.', 10
        RM_PAUSE 'to switch'
        cli
        mov eax, cr0
        or eax, 1                   ; CR0.PE
        mov cr0, eax
        jmp dword KERNEL_CODE:pm_start

gdt_notes:
        db 'the null descriptor: selector 0 means "no segment"', 0
        db 'ring 0 code: base 0, limit 4 GiB, 32-bit', 0
        db 'ring 0 data: base 0, limit 4 GiB', 0
        db 'ring 3 code: the same, with privilege level (DPL) 3', 0
        db 'ring 3 data', 0
        db 'the TSS (task state segment), for step 7', 0

; The GDT.  Descriptor layout (bytes): limit 0-15 | base 0-23 | access |
; flags (G = 4 KiB units, D = 32-bit) + limit 16-19 | base 24-31.
; Access: P (present), DPL (2 bits), S (code/data), type.
align 8
gdt:
        dq 0
        db 0xFF, 0xFF, 0, 0, 0, 10011010b, 11001111b, 0     ; 08 code, DPL 0
        db 0xFF, 0xFF, 0, 0, 0, 10010010b, 11001111b, 0     ; 10 data, DPL 0
        db 0xFF, 0xFF, 0, 0, 0, 11111010b, 11001111b, 0     ; 18 code, DPL 3
        db 0xFF, 0xFF, 0, 0, 0, 11110010b, 11001111b, 0     ; 20 data, DPL 3
gdt_tss:
        db 103, 0, 0, 0, 0, 10001001b, 0, 0                 ; 28 TSS, limit 103
gdt_end:
gdt_descriptor:
        dw gdt_end - gdt - 1
        dd gdt

; =============================================================================
; 32-bit protected mode.
; =============================================================================
        bits 32
%include "serial32.inc"

; wait_enter: as rm_wait_enter.  While interrupts are off (before step 5)
; we cannot HLT, so we just keep looking.
wait_enter:
        push eax
        push edx
.drain: mov dx, COM1 + UART_LSR
        in al, dx
        test al, LSR_DATA_READY
        jz .wait
        mov dx, COM1 + UART_DATA
        in al, dx
        jmp .drain
.wait:  mov dx, COM1 + UART_LSR
        in al, dx
        test al, LSR_DATA_READY
        jnz .key
        pushfd
        pop eax
        test eax, 0x200             ; IF: may an interrupt wake us?
        jz .wait
        hlt
        jmp .wait
.key:   mov dx, COM1 + UART_DATA
        in al, dx
        cmp al, 13
        je .enter
        cmp al, 10
        jne .wait
.enter: mov al, 10
        call putc
        call putc
        pop edx
        pop eax
        ret

pm_start:
        mov ax, KERNEL_DATA
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov esp, KERNEL_STACK
        PRINT 'We are in 32-bit protected mode: CS = '
        mov ax, cs
        call print_hex16
        PRINT ', DS = ES = SS = '
        mov ax, ds
        call print_hex16
        PRINT ', CR0 bit 0 = '
        mov eax, cr0
        and eax, 1
        call print_dec
        PRINT '.', 10
        PRINT 'The BIOS is out of reach now (its code is 16-bit); we drive COM1 ourselves.', 10
        PAUSE 'for step 5'

; =============================================================================
; Step 5: the IDT.
; =============================================================================
        PRINT '== Step 5 of 8: interrupts and exceptions ==', 10
        PRINT 'The IDT (interrupt descriptor table) has a gate for each of the 256', 10
        PRINT 'interrupt vectors: the address of a handler and who may call it.', 10
        PRINT 'Vectors 0-31 are the CPU', 39, 's exceptions: 0 divide error, 3 breakpoint, 6 invalid', 10
        PRINT 'opcode, 13 general protection fault, 14 page fault, ... The BIOS sent the', 10
        PRINT 'timer (IRQ0) to vector 8, which is the double fault here, so we reprogram', 10
        PRINT 'the PICs: IRQ0-7 -> vectors 20h-27h, IRQ8-15 -> 28h-2Fh.', 10
        call idt_init
        call pic_init
        PRINT '  IDT at '
        mov eax, idt
        call print_hex32
        PRINT ', 256 gates. Trying INT3, the breakpoint exception:', 10
        int3
        PRINT '  Back from the handler. STI: the timer interrupts again, and now it is', 10
        PRINT '  ours; it wakes the CPU from HLT while we wait for Enter.', 10
        sti
        PAUSE 'for step 6'

; =============================================================================
; Step 6: paging.
; =============================================================================
        PRINT '== Step 6 of 8: paging ==', 10
        PRINT 'With paging on, every address a program uses is translated: the top 10', 10
        PRINT 'bits pick an entry of the page directory (each covers 4 MiB), the next 10', 10
        PRINT 'an entry of a page table (each covers a 4 KiB page), the low 12 bits are', 10
        PRINT 'the offset in the page. CR3 holds the page directory', 39, 's physical address;', 10
        PRINT 'entries hold a physical address and flags: present, writable, user.', 10
        call paging_build
        PRINT '  Page directory at '
        mov eax, PAGE_DIR
        call print_hex32
        PRINT ':', 10
        PRINT '    entry 000 -> page table '
        mov eax, PT_LOW
        call print_hex32
        PRINT ': 00000000-003FFFFF to itself (this code keeps running)', 10
        PRINT '    entry 300 -> page table '
        mov eax, PT_HIGH
        call print_hex32
        PRINT ': C0000000 -> 000B8000 (the VGA text screen)', 10
        PRINT '    the other 1022 entries: not present', 10
        PAUSE 'to load CR3 and set CR0 bit 31 (PG)'
        mov eax, PAGE_DIR
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000          ; CR0.PG
        mov cr0, eax
        PRINT 'Paging is on: CR0 = '
        mov eax, cr0
        and eax, 0x80000001         ; (just PG and PE; other bits vary by BIOS)
        call print_hex32
        PRINT ', CR3 = '
        mov eax, cr3
        call print_hex32
        PRINT '.', 10
        ; Write to the screen through the alias: linear C0000000 is physical B8000.
        mov esi, vga_message
        mov edi, VGA_ALIAS
.vga:   lodsb
        test al, al
        jz .vga_done
        mov ah, 0x1E                ; yellow on blue
        stosw
        jmp .vga
.vga_done:
        PRINT '  Wrote "', 0
        mov esi, vga_message
        call puts
        PRINT '" at linear C0000000:', 10
        PRINT '  it is on the top line of the VGA screen, at physical B8000.', 10
        PRINT '  Now reading linear D0000000, which nothing maps:', 10
        mov eax, [DEMAND_ADDRESS]   ; page fault; the handler maps a page
        PRINT '  The read returned '
        call print_hex32
        mov dword [DEMAND_ADDRESS], 0x12345678
        PRINT '; wrote 12345678 there and read back '
        mov eax, [DEMAND_ADDRESS]
        call print_hex32
        PRINT '.', 10
        PAUSE 'for step 7'

; =============================================================================
; Step 7: ring 3.
; =============================================================================
        PRINT '== Step 7 of 8: ring 3 ==', 10
        PRINT 'User programs run in ring 3. There the CPU refuses instructions that', 10
        PRINT 'would let a program take over the machine (CLI, HLT, IN/OUT, loading CR3...)', 10
        PRINT 'and pages whose user flag is clear. To get back to ring 0, on an interrupt', 10
        PRINT 'or exception, the CPU needs a kernel stack: it finds it in the TSS (task', 10
        PRINT 'state segment), which LTR makes current.', 10
        call user_setup
        PRINT '  The user program (written to run at address 00400000) is copied to physical', 10
        PRINT '  00040000 and mapped at 00400000 with the user flag; its stack is at', 10
        PRINT '  00401000-00401FFF. TSS at '
        mov eax, tss
        call print_hex32
        PRINT ' with SS0:ESP0 = 0010:'
        mov eax, [tss + 4]
        call print_hex32
        PRINT '.', 10
        PRINT '  IRET with a ring 3 frame (SS, ESP, EFLAGS, CS = 001B, EIP) enters ring 3.', 10
        PRINT '  The program', 39, 's first instruction is CLI, which ring 3 may not execute.', 10
        PAUSE 'to IRET into ring 3'
        call enter_user             ; returns when the program calls exit
        PRINT 'Back in ring 0: the program exited with code '
        call print_dec
        PRINT '.', 10, 10
        PRINT 'That was the tour: real mode, the A20 gate, the GDT, protected mode, the', 10
        PRINT 'IDT and exceptions, paging, ring 3 and a system call. The CPU halts now.', 10
        cli
.halt:  hlt
        jmp .halt

vga_message: db 'Hello from linear address C0000000!', 0

; =============================================================================
; The IDT and the PIC.
; =============================================================================

; idt_init: gates for the 32 exceptions (interrupt gates, ring 0 only), the
; timer at 20h, 21h-2Fh ignored, and the system call gate at 80h: a trap gate
; (interrupts stay on) with DPL 3, so that ring 3 may use INT 80h.
idt_init:
        xor ecx, ecx
.exc:   mov eax, [exception_stubs + ecx * 4]
        mov dl, 0x8E                ; present, DPL 0, 32-bit interrupt gate
        call set_gate
        inc ecx
        cmp ecx, 32
        jb .exc
        mov eax, timer_interrupt
        call set_gate               ; ECX = 20h
.irq:   inc ecx
        mov eax, ignore_interrupt
        call set_gate
        cmp ecx, 0x2F
        jb .irq
        mov ecx, 0x80
        mov eax, system_call
        mov dl, 0xEF                ; present, DPL 3, 32-bit trap gate
        call set_gate
        lidt [idt_descriptor]
        ret

; set_gate: IDT entry ECX = handler EAX, type/attributes DL.
set_gate:
        push eax
        push ebx
        mov ebx, eax
        and eax, 0xFFFF
        or eax, KERNEL_CODE << 16
        mov [idt + ecx * 8], eax
        and ebx, 0xFFFF0000
        mov bh, dl
        mov [idt + ecx * 8 + 4], ebx
        pop ebx
        pop eax
        ret

; pic_init: ICW1-ICW4 to both PICs, then mask all but IRQ0.
pic_init:
        mov al, 0x11
        out 0x20, al
        out 0xA0, al
        mov al, 0x20
        out 0x21, al
        mov al, 0x28
        out 0xA1, al
        mov al, 0x04
        out 0x21, al
        mov al, 0x02
        out 0xA1, al
        mov al, 0x01
        out 0x21, al
        out 0xA1, al
        mov al, 0xFE                ; only IRQ0 (the timer)
        out 0x21, al
        mov al, 0xFF
        out 0xA1, al
        ret

timer_interrupt:
        push eax
        mov al, 0x20                ; end of interrupt
        out 0x20, al
        pop eax
        iretd

ignore_interrupt:
        iretd

; Exception stubs: make every frame look alike (error code, then vector).
%assign vec 0
%rep 32
exception_ %+ vec:
  %if vec == 8 || (vec >= 10 && vec <= 14) || vec == 17
        push dword vec
  %else
        push dword 0
        push dword vec
  %endif
        jmp exception_common
  %assign vec vec + 1
%endrep
exception_stubs:
%assign vec 0
%rep 32
        dd exception_ %+ vec
  %assign vec vec + 1
%endrep

; exception_common: the frame, from ESP up after the pushes below:
;   ES DS | EDI ESI EBP ESP EBX EDX ECX EAX | vector error | EIP CS EFLAGS
;   (+ ESP SS of ring 3 when the exception came from ring 3)
FRAME_VECTOR    equ 40
FRAME_ERROR     equ 44
FRAME_EIP       equ 48
FRAME_CS        equ 52
exception_common:
        pushad
        push ds
        push es
        mov ax, KERNEL_DATA
        mov ds, ax
        mov es, ax
        mov ebp, esp
        mov eax, [ebp + FRAME_VECTOR]
        cmp eax, 3
        je .breakpoint
        cmp eax, 14
        je .page_fault
        cmp eax, 13
        je .protection
.fatal: PRINT 10, '[kernel] unexpected exception '
        mov eax, [ebp + FRAME_VECTOR]
        call print_hex8
        PRINT ', error code '
        mov eax, [ebp + FRAME_ERROR]
        call print_hex32
        PRINT ' at '
        call print_cs_eip
        PRINT '; stopping.', 10
        cli
.stop:  hlt
        jmp .stop

.breakpoint:
        PRINT '  [handler] exception 03 (breakpoint) at '
        call print_cs_eip
        PRINT '; the CPU saved EIP, CS and', 10
        PRINT '            EFLAGS on the stack, and IRET will return after the INT3.', 10
        jmp .return

.page_fault:
        test byte [ebp + FRAME_CS], 3
        jnz .fatal                  ; (no page faults expected from ring 3)
        mov ebx, cr2                ; CR2 = the linear address that faulted
        mov eax, ebx
        shr eax, 22
        cmp eax, DEMAND_ADDRESS >> 22
        jne .fatal
        PRINT '  [handler] page fault (14): CR2 = '
        mov eax, ebx
        call print_hex32
        PRINT ', error code '
        mov eax, [ebp + FRAME_ERROR]
        call print_hex8
        PRINT ' (bit 0 = 0: not present, bit 1 = 0: a read,', 10
        PRINT '            bit 2 = 0: from ring 0). The handler takes two free frames, one', 10
        PRINT '            for a page table, one for the page, maps them and returns;', 10
        PRINT '            the CPU runs the faulting MOV again.', 10
        ; A page table for this 4 MiB ...
        mov edi, [next_frame]
        call zero_frame
        mov eax, edi
        or eax, 0x003               ; present, writable
        mov [PAGE_DIR + (DEMAND_ADDRESS >> 22) * 4], eax
        add dword [next_frame], 0x1000
        ; ... and a page in it.
        mov edx, edi                ; EDX = the page table
        mov edi, [next_frame]
        call zero_frame
        add dword [next_frame], 0x1000
        mov eax, ebx
        shr eax, 12
        and eax, 0x3FF              ; the entry number in the page table
        or edi, 0x003
        mov [edx + eax * 4], edi
        PRINT '            Mapped D0000000 -> '
        mov eax, edi
        and eax, 0xFFFFF000
        call print_hex32
        PRINT '.', 10
        jmp .return

.protection:
        test byte [ebp + FRAME_CS], 3
        jz .fatal                   ; a general protection fault in ring 0: a bug
        PRINT '[kernel] general protection fault (13) at '
        call print_cs_eip
        PRINT ': the CPU refused CLI', 10
        PRINT '         in ring 3 (CS = 001B: privilege level 3, above IOPL 0). A real OS', 10
        PRINT '         would stop the program; we step over the 1-byte instruction.', 10
        inc dword [ebp + FRAME_EIP]
.return:
        pop es
        pop ds
        popad
        add esp, 8                  ; vector and error code
        iretd

; print_cs_eip: "CS:EIP" from the exception frame at EBP.
print_cs_eip:
        mov eax, [ebp + FRAME_CS]
        call print_hex16
        PRINT ':'
        mov eax, [ebp + FRAME_EIP]
        jmp print_hex32

zero_frame:
        push edi
        push ecx
        push eax
        xor eax, eax
        mov ecx, 1024
        rep stosd
        pop eax
        pop ecx
        pop edi
        ret

; =============================================================================
; Paging and ring 3 set-up.
; =============================================================================

; paging_build: the page directory and the tables for step 6 (paging is still
; off while we write them).  Entry flags: 1 present, 2 writable, 4 user.
paging_build:
        mov edi, PAGE_DIR
        call zero_frame
        mov edi, PT_LOW             ; 1024 pages of 4 KiB: 0-4 MiB to itself
        mov eax, 0x003
        mov ecx, 1024
.low:   stosd
        add eax, 0x1000
        loop .low
        mov dword [PAGE_DIR], PT_LOW | 0x003
        mov edi, PT_HIGH            ; C0000000-C0000FFF -> B8000-B8FFF
        call zero_frame
        mov dword [PT_HIGH], 0xB8000 | 0x003
        mov dword [PAGE_DIR + (VGA_ALIAS >> 22) * 4], PT_HIGH | 0x003
        mov dword [next_frame], FREE_FRAMES
        ret

; user_setup: copy the user program, map it (and a stack page) with the
; user flag, and make the TSS current.
user_setup:
        mov esi, user_start         ; where the program is in this image
        mov edi, USER_FRAME
        mov ecx, user_end - user_start
        rep movsb
        mov edi, PT_USER
        call zero_frame
        mov dword [PT_USER], USER_FRAME | 0x007        ; 00400000: code
        mov dword [PT_USER + 4], USER_STACK_FRAME | 0x007  ; 00401000: stack
        mov dword [PAGE_DIR + (USER_BASE >> 22) * 4], PT_USER | 0x007
        mov eax, cr3                ; reloading CR3 flushes the TLB, the CPU's
        mov cr3, eax                ; cache of translations
        mov dword [tss + 4], RING0_STACK    ; ESP0
        mov dword [tss + 8], KERNEL_DATA    ; SS0
        mov word [tss + 102], 104   ; I/O bitmap offset past the end: no bitmap,
        mov ax, TSS_SEL             ; so ring 3 may use no I/O port at all
        ltr ax
        ret

; enter_user: IRET into ring 3 at USER_BASE.  Returns (EAX = exit code) when
; the program makes the exit system call.
enter_user:
        mov [saved_esp], esp
        mov ax, USER_DATA           ; ring 3 data selectors in DS and ES
        mov ds, ax                  ; (IRET would clear ring 0 ones)
        mov es, ax
        push dword USER_DATA        ; SS
        push dword USER_BASE + 0x2000   ; ESP: top of the stack page
        push dword 0x202            ; EFLAGS: IF on, IOPL 0
        push dword USER_CODE        ; CS
        push dword USER_BASE        ; EIP
        iretd

; system_call: INT 80h from ring 3.  EAX = the call: 1 write(EBX = string),
; 2 exit(EBX = code).  The CPU switched to the ring 0 stack (SS0:ESP0 from
; the TSS) and pushed the user's SS, ESP, EFLAGS, CS, EIP there.
system_call:
        pushad
        push ds
        push es
        mov bp, KERNEL_DATA
        mov ds, bp
        mov es, bp
        mov ebp, esp
        cmp eax, 1
        je .write
        cmp eax, 2
        je .exit
        PRINT '[kernel] unknown system call', 10
        jmp .return
.write: cmp byte [syscalls_seen], 0
        jne .no_story
        PRINT '== Step 8 of 8: a system call ==', 10
        PRINT 'The program wants to print, which it may not do itself; it asks the', 10
        PRINT 'kernel: EAX = 1 (write), EBX = the text, then INT 80h. The gate for 80h', 10
        PRINT 'has DPL 3, so ring 3 may use it, and the CPU switches to the TSS', 39, 's stack.', 10
        PRINT '  [kernel] system call 1 (write) from '
        mov eax, [ebp + 40 + 4]     ; CS
        call print_hex16
        PRINT ':'
        mov eax, [ebp + 40]         ; EIP
        call print_hex32
        PRINT ', user ESP '
        mov eax, [ebp + 40 + 12]
        call print_hex32
        PRINT ', kernel ESP '
        lea eax, [ebp + 40]
        call print_hex32
        PRINT 10
        PAUSE 'to carry out the call'
.no_story:
        inc byte [syscalls_seen]
        ; A real kernel would check that the whole string is in user memory.
        mov esi, [ebp + 8 + 16]     ; the user's EBX
        PRINT '[ring 3 says] '
        call puts
        jmp .return
.exit:  mov eax, [ebp + 8 + 16]     ; the exit code
        mov esp, [saved_esp]        ; drop the ring 3 frames: back to the
        mov bx, KERNEL_DATA         ; stack enter_user was called on
        mov ds, bx
        mov es, bx
        ret                         ; return from enter_user
.return:
        pop es
        pop ds
        popad
        iretd

idt_descriptor:
        dw 256 * 8 - 1
        dd idt

; =============================================================================
; The user program.  It is stored here, but it runs at USER_BASE after the
; kernel copies it there, so an address inside it is USER_BASE + (label -
; user_start), not the label itself.  Jumps are relative and need no care.
; =============================================================================
%define USER_ADDRESS(label) (USER_BASE + (label - user_start))
        align 16
user_start:
        cli                         ; not allowed in ring 3: #GP
        mov eax, 1                  ; write
        mov ebx, USER_ADDRESS(user_hello)
        int 0x80
        mov eax, 2                  ; exit
        mov ebx, 0
        int 0x80
        jmp $                       ; (exit does not come back)
user_hello:
        db 'Hello from ring 3! The kernel printed this for me.', 10, 0
user_end:

        align 512, db 0
image_end:

        section .bss
        alignb 16
tss:            resb 104
idt:            resb 256 * 8
saved_esp:      resd 1
next_frame:     resd 1
scratch:        resb 8
syscalls_seen:  resb 1
