; =============================================================================
; monitor — a tiny operating system with a command shell on the serial port.
;
; What it shows, in the order it happens:
;   1. A boot sector (lib/bootsector.inc) loads the rest of this file from the
;      hard disk with the BIOS (INT 13h) to 0x7E00 and jumps to `stage2`.
;   2. Still in 16-bit real mode, stage2 asks the BIOS for the memory map
;      (INT 15h, EAX=E820h) and opens the A20 gate.
;   3. It loads a GDT (global descriptor table), sets CR0.PE and far-jumps into
;      32-bit protected mode.
;   4. In protected mode it builds an IDT (interrupt descriptor table), moves
;      the PIC's IRQs to vectors 0x20-0x2F, starts the PIT at 100 Hz, turns on
;      paging (an identity map with page 0 left out, so a null pointer faults)
;      and makes COM1 interrupt the CPU whenever a byte arrives (IRQ4).
;   5. Then it runs a shell: it sleeps with HLT until a key arrives, edits a
;      line, and runs the command.  Type `help`.  All numbers are hexadecimal.
;
; Memory layout (physical = linear: the page tables map every page to itself)
;   0x00007C00  boot sector, then this program's code and data, then its BSS
;   0x00070000  page directory          PAGE_DIR
;   0x00071000  page table for 0-4 MiB  PAGE_TABLE0
;   0x00080000  top of the stack (grows down)
;   0x000B8000  VGA text screen (try `poke B8000 41 1F`)
;
; Build: nasm -f bin -I ../lib/ -o monitor.bin monitor.asm
; =============================================================================

        org 0x7C00
        bits 16

%define BOOT_TITLE 'monitor'
%include "bootsector.inc"

PAGE_DIR        equ 0x70000
PAGE_TABLE0     equ 0x71000
STACK_TOP       equ 0x80000
CODE_SEL        equ 0x08            ; GDT selectors (index * 8)
DATA_SEL        equ 0x10
E820_MAX        equ 32              ; memory map entries we keep
LINE_MAX        equ 76              ; longest command line
MAX_ARGS        equ 8
TICK_HZ         equ 100             ; PIT interrupts per second
PIT_HZ          equ 1193182         ; the PIT's input clock
IRQ_BASE        equ 0x20            ; IRQ0-15 become vectors 0x20-0x2F

; =============================================================================
; Stage 2, real mode: collect what only the BIOS can tell us, then leave.
; =============================================================================
stage2:
        ; Clear our BSS (the variables that start at zero).
        mov di, bss_start
        mov cx, bss_end - bss_start
        xor al, al
        rep stosb

        mov si, msg_rm_hello
        call boot_print
        call detect_memory
        call enable_a20

        ; Into protected mode.  With interrupts off (our IDT does not exist
        ; yet, and the BIOS's real-mode handlers would not work in protected
        ; mode), load the GDT, set bit 0 of CR0 (PE, protection enable), and
        ; jump far: the jump loads CS with a selector from the new GDT.
        cli
        lgdt [gdt_descriptor]
        mov eax, cr0
        or eax, 1                   ; CR0.PE
        mov cr0, eax
        jmp dword CODE_SEL:pm_start

; detect_memory: INT 15h EAX=E820h hands out the memory map one entry per call
; (EBX = continuation value, 0 at the start and after the last entry).  Each
; entry is 24 bytes: 64-bit base, 64-bit length, 32-bit type, 32-bit extras.
detect_memory:
        mov di, e820_map            ; ES:DI = where the BIOS writes an entry
        xor ebx, ebx
.next:  mov eax, 0xE820
        mov edx, 0x534D4150         ; 'SMAP': proves we know what we ask for
        mov ecx, 24
        mov dword [di + 20], 1      ; "extended attributes: valid" by default
        int 0x15
        jc .done                    ; carry: no (more) entries
        cmp eax, 0x534D4150         ; the BIOS answers 'SMAP' too
        jne .done
        cmp ecx, 20
        jb .skip                    ; an entry shorter than 20 bytes is junk
        inc word [e820_count]
        add di, 24
        cmp word [e820_count], E820_MAX
        jae .done
.skip:  test ebx, ebx
        jnz .next
.done:  ret

; enable_a20: the A20 gate.  The 8086 had 20 address lines and addresses
; above 1 MiB wrapped to 0; PCs keep address line 20 forced to 0 until someone
; opens the gate, so odd megabytes alias even ones.  We try the BIOS (INT 15h
; AX=2401h), then the "fast A20" bit of system control port 0x92.
enable_a20:
        call a20_is_on
        mov byte [a20_how], 1       ; 1: it was already on
        jnz .done
        mov ax, 0x2401
        int 0x15
        call a20_is_on
        mov byte [a20_how], 2       ; 2: the BIOS turned it on
        jnz .done
        in al, 0x92
        or al, 0x02                 ; bit 1: A20 on (keep bit 0 = 0: no reset!)
        and al, 0xFE
        out 0x92, al
        call a20_is_on
        mov byte [a20_how], 3       ; 3: port 0x92 turned it on
        jnz .done
        mov byte [a20_how], 0       ; 0: still off
.done:  ret

; a20_is_on: ZF = 0 when A20 is on.  0000:0500 and FFFF:0510 are the physical
; addresses 0x000500 and 0x100500; with A20 off they are the same byte.
a20_is_on:
        push ds
        push es
        xor ax, ax
        mov ds, ax
        dec ax
        mov es, ax                  ; ES = 0xFFFF
        mov al, [0x0500]
        push ax                     ; keep the byte we are about to change
        mov byte [0x0500], 0x00
        mov byte [es:0x0510], 0xFF  ; if this lands on 0x000500, A20 is off
        cmp byte [0x0500], 0xFF     ; ZF = 1 when it did
        pop ax
        mov [0x0500], al
        pop es
        pop ds
        ret

msg_rm_hello: db 'monitor: real mode, asking the BIOS for the memory map; the shell is on COM1.', 13, 10, 0

; The GDT: three 8-byte descriptors.  Each one describes a segment: base 0,
; limit 4 GiB (0xFFFFF in 4 KiB units), present, ring 0.
;   bytes: limit 0-15, base 0-15, base 16-23, access, flags|limit 16-19, base 24-31
align 8
gdt:
        dq 0                        ; 0x00: the null descriptor (required)
        db 0xFF, 0xFF, 0, 0, 0, 10011010b, 11001111b, 0  ; 0x08: code, execute/read
        db 0xFF, 0xFF, 0, 0, 0, 10010010b, 11001111b, 0  ; 0x10: data, read/write
gdt_end:
gdt_descriptor:
        dw gdt_end - gdt - 1        ; limit: size - 1
        dd gdt                      ; linear address

; =============================================================================
; 32-bit protected mode from here on.
; =============================================================================
        bits 32
%include "serial32.inc"

pm_start:
        mov ax, DATA_SEL            ; every data segment register gets the
        mov ds, ax                  ; flat data descriptor
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov esp, STACK_TOP

        call com1_init
        PRINT 'monitor: visor86 monitor, a tiny protected-mode operating system', 10
        PRINT 'monitor: 32-bit protected mode (GDT at 0x'
        mov eax, gdt
        call print_hex32
        PRINT ')', 10
        call idt_init
        call pic_init
        call pit_init
        call paging_init
        call serial_irq_init
        sti                         ; from now on interrupts arrive
        PRINT 'Type help for the commands. Numbers are hexadecimal.', 10
        jmp shell

; =============================================================================
; Interrupts: IDT, PIC, PIT, exceptions.
; =============================================================================

; idt_init: 256 interrupt gates.  A gate is 8 bytes:
;   handler offset 0-15 | selector | 0 | type (0x8E = present, ring 0,
;   32-bit interrupt gate: IF is cleared on entry) | handler offset 16-31
idt_init:
        xor ecx, ecx
.gate:  mov eax, ignore_interrupt
        cmp ecx, 32
        jae .not_exception
        mov eax, [exception_stubs + ecx * 4]
        jmp .write
.not_exception:
        cmp ecx, IRQ_BASE + 16
        jae .write
        mov eax, [irq_stubs + ecx * 4 - IRQ_BASE * 4]
.write: mov edx, eax
        and eax, 0x0000FFFF
        or eax, CODE_SEL << 16      ; low dword: selector, offset 0-15
        and edx, 0xFFFF0000
        or edx, 0x8E00              ; high dword: offset 16-31, type
        mov [idt + ecx * 8], eax
        mov [idt + ecx * 8 + 4], edx
        inc ecx
        cmp ecx, 256
        jb .gate
        lidt [idt_descriptor]
        PRINT 'monitor: IDT loaded: exceptions 00-1F, IRQs at 20-2F', 10
        ret

; pic_init: the two 8259A PICs.  The BIOS routes IRQ0-7 to vectors 8-15, which
; protected mode uses for CPU exceptions, so we "remap" them with the four
; initialisation command words (ICW1-4), then mask all IRQs except 0 (PIT),
; 2 (the slave PIC's cascade) and 4 (COM1).
pic_init:
        mov al, 0x11                ; ICW1: edge triggered, cascade, ICW4 follows
        out 0x20, al
        out 0x80, al                ; (a write to port 0x80 is a short delay)
        out 0xA0, al
        out 0x80, al
        mov al, IRQ_BASE            ; ICW2: the master's vectors start at 0x20
        out 0x21, al
        out 0x80, al
        mov al, IRQ_BASE + 8        ;       the slave's at 0x28
        out 0xA1, al
        out 0x80, al
        mov al, 0x04                ; ICW3: the slave hangs on master IR2
        out 0x21, al
        out 0x80, al
        mov al, 0x02                ;       the slave's cascade identity is 2
        out 0xA1, al
        out 0x80, al
        mov al, 0x01                ; ICW4: 8086 mode, normal EOI
        out 0x21, al
        out 0x80, al
        out 0xA1, al
        out 0x80, al
        mov al, ~((1 << 0) | (1 << 2) | (1 << 4)) & 0xFF
        out 0x21, al                ; OCW1: the mask; a 1 bit blocks that IRQ
        mov al, 0xFF
        out 0xA1, al
        PRINT 'monitor: PIC remapped, IRQ0 (timer), IRQ2 (cascade) and IRQ4 (COM1) unmasked', 10
        ret

; pit_init: PIT channel 0 divides its 1.193182 MHz clock by 11932 to raise
; IRQ0 100 times a second (mode 2, "rate generator").
pit_init:
        mov al, 00110100b           ; channel 0, low byte then high byte, mode 2, binary
        out 0x43, al
        mov ax, (PIT_HZ + TICK_HZ / 2) / TICK_HZ
        out 0x40, al
        mov al, ah
        out 0x40, al
        PRINT 'monitor: PIT channel 0 ticking at 100 Hz', 10
        ret

; Each exception stub pushes an error code (a 0 when the CPU pushes none) and
; the vector number, so exception_common always sees the same frame.  Vectors
; 8, 10-14 and 17 come with an error code from the CPU.
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

; exception_common: report the exception and go back to the shell prompt.
; Stack: [esp] vector, [esp+4] error code, [esp+8] EIP, [esp+12] CS, [esp+16] EFLAGS
exception_common:
        PRINT 10, '*** CPU exception '
        mov eax, [esp]
        call print_hex8
        cmp eax, 20
        jae .unnamed
        PRINT ' ('
        mov esi, [exception_names + eax * 4]
        call puts
        PRINT ')'
.unnamed:
        PRINT ', error code '
        mov eax, [esp + 4]
        call print_hex32
        PRINT ', at EIP '
        mov eax, [esp + 8]
        call print_hex32
        cmp dword [esp], 14
        jne .end
        PRINT 10, '    CR2 = '
        mov eax, cr2                ; the linear address that could not be reached
        call print_hex32
        PRINT ' is the address that could not be reached'
.end:   PRINT 10
        jmp shell                   ; forget the failed command (shell resets ESP)

exception_names:
        dd .e0, .e1, .e2, .e3, .e4, .e5, .e6, .e7, .e8, .e9
        dd .e10, .e11, .e12, .e13, .e14, .e15, .e16, .e17, .e18, .e19
.e0:    db 'divide error', 0
.e1:    db 'debug', 0
.e2:    db 'NMI', 0
.e3:    db 'breakpoint', 0
.e4:    db 'overflow', 0
.e5:    db 'BOUND range exceeded', 0
.e6:    db 'invalid opcode', 0
.e7:    db 'no FPU', 0
.e8:    db 'double fault', 0
.e9:    db 'coprocessor segment overrun', 0
.e10:   db 'invalid TSS', 0
.e11:   db 'segment not present', 0
.e12:   db 'stack fault', 0
.e13:   db 'general protection fault', 0
.e14:   db 'page fault', 0
.e15:   db 'reserved', 0
.e16:   db 'x87 floating-point error', 0
.e17:   db 'alignment check', 0
.e18:   db 'machine check', 0
.e19:   db 'SIMD floating-point error', 0

; IRQ stubs: push the IRQ number and share the rest.
%assign irq 0
%rep 16
irq_ %+ irq:
        push dword irq
        jmp irq_common
  %assign irq irq + 1
%endrep

irq_stubs:
%assign irq 0
%rep 16
        dd irq_ %+ irq
  %assign irq irq + 1
%endrep

; irq_common: run the device's handler, then tell the PIC "end of interrupt"
; (EOI) so it delivers the next one.  An IRQ from the slave PIC needs an EOI
; to both PICs.
irq_common:
        pushad
        mov ebx, [esp + 32]         ; the IRQ number (above the 8 pushed registers)
        cmp ebx, 0
        jne .not_timer
        inc dword [ticks]
        jmp .eoi
.not_timer:
        cmp ebx, 4
        jne .not_com1
        call serial_irq
        jmp .eoi
.not_com1:
        ; IRQ7 and IRQ15 may be "spurious": a request that went away before the
        ; CPU acknowledged it.  Then the PIC's in-service register (read after
        ; OCW3 = 0x0B) has no bit set for it, and we must not send an EOI.
        cmp ebx, 7
        jne .not_7
        mov al, 0x0B
        out 0x20, al
        in al, 0x20
        test al, 0x80
        jz .done                    ; spurious: no EOI
.not_7: cmp ebx, 15
        jne .eoi
        mov al, 0x0B
        out 0xA0, al
        in al, 0xA0
        test al, 0x80
        jnz .eoi
        mov al, 0x20                ; spurious on the slave: the master still
        out 0x20, al                ; saw IRQ2 and wants its EOI
        jmp .done
.eoi:   mov al, 0x20                ; OCW2: non-specific EOI
        cmp ebx, 8
        jb .master
        out 0xA0, al
.master:
        out 0x20, al
.done:  popad
        add esp, 4                  ; drop the IRQ number
        iretd

ignore_interrupt:
        iretd

idt_descriptor:
        dw 256 * 8 - 1              ; limit
        dd idt                      ; base

; =============================================================================
; Paging.
; =============================================================================

; paging_init: the page directory's 1024 entries each cover 4 MiB.  Entry 0
; points to a page table of 1024 4 KiB pages (0-4 MiB); the other entries map
; 4 MiB pages directly (PSE, CR4 bit 4) up to the end of RAM.  Every linear
; address maps to the same physical address, except page 0, which is left
; "not present": reading or writing address 0-0xFFF raises a page fault,
; which catches null pointers.
;   entry bits: 0 present, 1 writable, 2 user, 7 page size (4 MiB)
paging_init:
        call find_ram_top           ; EAX = end of RAM
        mov [ram_top], eax

        mov edi, PAGE_TABLE0
        mov eax, 0x00000003         ; physical 0, present + writable
        mov ecx, 1024
.pte:   stosd
        add eax, 0x1000
        loop .pte
        mov dword [PAGE_TABLE0], 0  ; page 0: not present

        mov edi, PAGE_DIR
        xor eax, eax
        mov ecx, 1024
        rep stosd                   ; all 4 MiB slots empty ...
        mov dword [PAGE_DIR], PAGE_TABLE0 | 0x003   ; ... except the first
        mov dword [mapped_top], 0x400000

        ; Does the CPU do 4 MiB pages?  CPUID leaf 1, EDX bit 3 (PSE).
        mov eax, 1
        cpuid
        test edx, 1 << 3
        jz .no_pse
        mov eax, cr4
        or eax, 1 << 4              ; CR4.PSE
        mov cr4, eax
        mov ebx, 1                  ; directory entry 1 = 4-8 MiB
.pde:   mov eax, ebx
        shl eax, 22                 ; its physical address
        lea edx, [eax + 0x400000]
        cmp edx, [ram_top]
        ja .pse_done                ; only whole 4 MiB pages inside RAM
        or eax, 0x083               ; present + writable + 4 MiB page
        mov [PAGE_DIR + ebx * 4], eax
        mov [mapped_top], edx
        inc ebx
        cmp ebx, 1024
        jb .pde
.pse_done:
.no_pse:
        mov eax, PAGE_DIR
        mov cr3, eax                ; CR3: where the page directory is
        mov eax, cr0
        or eax, 0x80000000          ; CR0.PG: paging on
        mov cr0, eax
        jmp .flush                  ; (a jump after turning paging on)
.flush:
        PRINT 'monitor: paging on: 00001000-'
        mov eax, [mapped_top]
        dec eax
        call print_hex32
        PRINT ' identity-mapped, page 0 unmapped', 10
        ret

; find_ram_top: EAX = the end of the highest usable RAM region below 4 GiB,
; from the E820 map; without a map, from the CMOS (registers 0x30/0x31: KiB
; above 1 MiB, up to 64 MiB; 0x34/0x35: 64 KiB blocks above 16 MiB).
find_ram_top:
        xor eax, eax
        movzx ecx, word [e820_count]
        jecxz .cmos
        mov esi, e820_map
.entry: cmp dword [esi + 16], 1     ; usable RAM?
        jne .skip
        cmp dword [esi + 4], 0      ; base above 4 GiB?
        jne .skip
        mov edx, [esi]
        add edx, [esi + 8]          ; end = base + length
        jc .to_4g
        cmp dword [esi + 12], 0
        jne .to_4g
        cmp edx, eax
        jbe .skip
        mov eax, edx
        jmp .skip
.to_4g: mov eax, 0xFFFFF000
.skip:  add esi, 24
        loop .entry
        ret
.cmos:  mov al, 0x35
        call cmos_read
        movzx edx, al
        mov al, 0x34
        call cmos_read
        shl edx, 8
        mov dl, al
        test edx, edx
        jz .below_16m
        shl edx, 16                 ; 64 KiB blocks
        lea eax, [edx + 0x1000000]
        ret
.below_16m:
        mov al, 0x31
        call cmos_read
        movzx edx, al
        mov al, 0x30
        call cmos_read
        shl edx, 8
        mov dl, al
        shl edx, 10                 ; KiB
        lea eax, [edx + 0x100000]
        ret

; =============================================================================
; COM1 input by interrupt.
; =============================================================================

; serial_irq_init: ask the UART for an interrupt when a byte arrives (IER bit
; 0) and let the interrupt out of the card: on a PC the UART's interrupt pin
; reaches the PIC only while MCR bit 3 (OUT2) is set.
serial_irq_init:
        mov dx, COM1 + UART_FCR
        mov al, 0x07                ; FIFOs on, emptied; interrupt at 1 byte
        out dx, al
        mov dx, COM1 + UART_MCR
        mov al, 0x0B                ; DTR + RTS + OUT2
        out dx, al
        mov dx, COM1 + UART_IER
        mov al, 0x01                ; "received data available" interrupt
        out dx, al
        mov dx, COM1 + UART_LSR     ; read the status registers once, so no
        in al, dx                   ; stale condition is left pending
        mov dx, COM1 + UART_IIR
        in al, dx
        PRINT 'monitor: COM1 receives by interrupt (IRQ4)', 10
        ret

; serial_irq: move every received byte into the ring buffer rx_buf.  The
; buffer is 256 bytes and rx_head/rx_tail are bytes, so they wrap by
; themselves.  When it is full, the byte is dropped.
serial_irq:
.more:  mov dx, COM1 + UART_LSR
        in al, dx
        test al, LSR_DATA_READY
        jz .done
        mov dx, COM1 + UART_DATA
        in al, dx                   ; reading RBR takes the byte from the FIFO
        movzx ecx, byte [rx_head]
        lea edx, [ecx + 1]
        cmp dl, [rx_tail]
        je .more                    ; full: drop it
        mov [rx_buf + ecx], al
        mov [rx_head], dl
        jmp .more
.done:  ret

; getc: AL = the next received byte.  While there is none, sleep with HLT: the
; CPU stops until an interrupt (a byte, or the timer) wakes it.  STI enables
; interrupts only after the instruction that follows it, so no interrupt can
; slip in between the check and the HLT and leave us asleep with a byte waiting.
getc:
        push ecx
.wait:  cli
        movzx ecx, byte [rx_tail]
        cmp cl, [rx_head]
        jne .take
        sti
        hlt
        jmp .wait
.take:  mov al, [rx_buf + ecx]
        inc byte [rx_tail]
        sti
        pop ecx
        ret

; =============================================================================
; The shell.
; =============================================================================

shell:
        mov esp, STACK_TOP          ; a fresh stack: also how errors get back here
        sti
.prompt:
        PRINT '> '
        call read_line
        call split_words
        cmp dword [argc], 0
        je .prompt
        mov ebx, commands
.find:  mov edi, [ebx]
        test edi, edi
        jz .unknown
        mov esi, [argv]
        call streq
        je .found
        add ebx, 12
        jmp .find
.found: call [ebx + 4]
        jmp .prompt
.unknown:
        PRINT 'unknown command: '
        mov esi, [argv]
        call puts
        PRINT ' (type help)', 10
        jmp .prompt

; read_line: read a line into line_buf, echoing it.  Backspace (8 or 127)
; erases; CR or LF ends the line (LF right after CR is ignored, so CR LF is one
; Enter).  Other control characters are ignored.
read_line:
        xor ecx, ecx                ; characters in the line
.key:   call getc
        cmp al, 13
        je .enter
        cmp al, 10
        jne .not_lf
        cmp byte [last_key], 13
        mov [last_key], al
        je .key                     ; the LF of a CR LF pair
        jmp .end
.not_lf:
        mov [last_key], al
        cmp al, 8
        je .backspace
        cmp al, 127
        je .backspace
        cmp al, ' '
        jb .key
        cmp al, 126
        ja .key
        cmp ecx, LINE_MAX
        jae .key                    ; line full
        mov [line_buf + ecx], al
        inc ecx
        call putc                   ; echo
        jmp .key
.backspace:
        jecxz .key
        dec ecx
        PRINT 8, ' ', 8             ; back, blank, back
        jmp .key
.enter: mov [last_key], al
.end:   mov byte [line_buf + ecx], 0
        mov [line_len], ecx
        mov al, 10
        call putc
        ret

; split_words: cut line_buf into words at spaces: argv[i] points to word i,
; each word now ends with a 0 byte; argc = how many.
split_words:
        mov esi, line_buf
        xor ecx, ecx
.space: mov al, [esi]
        test al, al
        jz .done
        cmp al, ' '
        jne .word
        inc esi
        jmp .space
.word:  cmp ecx, MAX_ARGS
        jae .done
        mov [argv + ecx * 4], esi
        inc ecx
.inword:
        inc esi
        mov al, [esi]
        test al, al
        jz .done
        cmp al, ' '
        jne .inword
        mov byte [esi], 0
        inc esi
        jmp .space
.done:  mov [argc], ecx
        ret

; streq: ZF = 1 when the strings at ESI and EDI are equal.
streq:
        push esi
        push edi
        push eax
.next:  mov al, [esi]
        cmp al, [edi]
        jne .out
        inc esi
        inc edi
        test al, al
        jnz .next                   ; equal so far; at the end ZF = 1
.out:   pop eax
        pop edi
        pop esi
        ret

; parse_hex: ESI = a string of hex digits (an optional 0x in front) -> EAX.
; CF = 1 when it is not a number of at most 8 digits.
parse_hex:
        push esi
        push ecx
        push edx
        xor eax, eax
        xor ecx, ecx
        cmp byte [esi], '0'
        jne .digit
        mov dl, [esi + 1]
        or dl, 0x20                 ; lower case
        cmp dl, 'x'
        jne .digit
        add esi, 2
.digit: movzx edx, byte [esi]
        test dl, dl
        jz .end
        sub dl, '0'
        cmp dl, 9
        jbe .add
        or dl, 0x20                 ; 'A'-'F' -> 'a'-'f' (as offsets from '0')
        sub dl, 'a' - '0'
        cmp dl, 5
        ja .bad
        add dl, 10
.add:   cmp ecx, 8
        jae .bad
        shl eax, 4
        or eax, edx
        inc ecx
        inc esi
        jmp .digit
.end:   test ecx, ecx
        jz .bad
        clc
        jmp .out
.bad:   stc
.out:   pop edx
        pop ecx
        pop esi
        ret

; arg_hex: EAX = argument number ECX as a number; a bad number aborts the
; command with a message (back to the prompt).
arg_hex:
        push esi
        mov esi, [argv + ecx * 4]
        call parse_hex
        jc .bad
        pop esi
        ret
.bad:   PRINT 'not a hexadecimal number: '
        call puts
        PRINT 10
        jmp shell

; need_args N: abort with the command's usage unless there are >= N words.
%macro NEED_ARGS 2
        cmp dword [argc], %1
        jae %%ok
        PRINT 'usage: ', %2, 10
        ret
%%ok:
%endmacro

; print_dec2: AL (0-99) as two decimal digits.
print_dec2:
        push eax
        aam                         ; AH = AL / 10, AL = AL mod 10
        add ax, '00'
        xchg al, ah
        call putc
        mov al, ah
        call putc
        pop eax
        ret

; hexdump: ECX bytes at ESI, 16 per line, each line labelled with the address
; EDX (which may differ from ESI, e.g. an offset in a disk sector).
hexdump:
        test ecx, ecx
        jz .done
.line:  mov eax, edx
        call print_hex32
        PRINT ' '
        mov ebx, 16
        cmp ecx, ebx
        jae .full
        mov ebx, ecx                ; the last line may be short
.full:  xor edi, edi
.hex:   cmp edi, 8
        jne .no_gap
        PRINT ' '
.no_gap:
        cmp edi, ebx
        jae .pad
        PRINT ' '
        mov al, [esi + edi]         ; (a page fault here ends the command)
        call print_hex8
        jmp .hex_next
.pad:   PRINT '   '
.hex_next:
        inc edi
        cmp edi, 16
        jb .hex
        PRINT '  |'
        xor edi, edi
.chr:   mov al, [esi + edi]
        cmp al, ' '
        jb .dot
        cmp al, 126
        jbe .put
.dot:   mov al, '.'
.put:   call putc
        inc edi
        cmp edi, ebx
        jb .chr
        PRINT '|', 10
        add esi, ebx
        add edx, ebx
        sub ecx, ebx
        jnz .line
.done:  ret

; =============================================================================
; The commands.  Each table row: name, handler, help line.
; =============================================================================
commands:
        dd .help,   cmd_help,   .help_h
        dd .mem,    cmd_mem,    .mem_h
        dd .regs,   cmd_regs,   .regs_h
        dd .peek,   cmd_peek,   .peek_h
        dd .poke,   cmd_poke,   .poke_h
        dd .in,     cmd_in,     .in_h
        dd .out,    cmd_out,    .out_h
        dd .disk,   cmd_disk,   .disk_h
        dd .uptime, cmd_uptime, .uptime_h
        dd .date,   cmd_date,   .date_h
        dd .reboot, cmd_reboot, .reboot_h
        dd .quit,   cmd_quit,   .quit_h
        dd 0
.help:   db 'help', 0
.mem:    db 'mem', 0
.regs:   db 'regs', 0
.peek:   db 'peek', 0
.poke:   db 'poke', 0
.in:     db 'in', 0
.out:    db 'out', 0
.disk:   db 'disk', 0
.uptime: db 'uptime', 0
.date:   db 'date', 0
.reboot: db 'reboot', 0
.quit:   db 'quit', 0
.help_h:   db 'help                  this list', 0
.mem_h:    db 'mem                   the memory map (BIOS E820) and the page tables', 0
.regs_h:   db 'regs                  CPU registers, control registers, GDT and IDT', 0
.peek_h:   db 'peek ADDR [LEN]       show LEN bytes (default 40) at address ADDR', 0
.poke_h:   db 'poke ADDR BYTE...     write bytes at ADDR (try: poke B8000 41 1F)', 0
.in_h:     db 'in PORT               read a byte from an I/O port', 0
.out_h:    db 'out PORT BYTE         write a byte to an I/O port', 0
.disk_h:   db 'disk id|read LBA|write LBA TEXT   the ATA disk, through ports 1F0-1F7', 0
.uptime_h: db 'uptime                time since start, counted by the PIT (IRQ0)', 0
.date_h:   db 'date                  date and time from the RTC (CMOS)', 0
.reboot_h: db 'reboot                reset the PC through the 8042 keyboard controller', 0
.quit_h:   db 'quit                  power off (isa-debug-exit, port F4)', 0

cmd_help:
        PRINT 'Commands (numbers are hexadecimal):', 10
        mov ebx, commands
.row:   cmp dword [ebx], 0
        je .done
        PRINT '  '
        mov esi, [ebx + 8]
        call puts
        PRINT 10
        add ebx, 12
        jmp .row
.done:  ret

; mem: the E820 map the BIOS gave us, and what paging does with it.
cmd_mem:
        movzx ecx, word [e820_count]
        test ecx, ecx
        jnz .map
        PRINT 'The BIOS gave no E820 memory map.', 10
        jmp .summary
.map:   PRINT 'BIOS memory map (INT 15h, E820):', 10
        mov ebx, e820_map
.entry: PRINT '  '
        mov edx, [ebx + 4]          ; base, 64 bits: EDX:EAX
        mov eax, [ebx]
        call print_addr64
        PRINT '-'
        mov eax, [ebx]              ; end = base + length - 1
        mov edx, [ebx + 4]
        add eax, [ebx + 8]
        adc edx, [ebx + 12]
        sub eax, 1
        sbb edx, 0
        call print_addr64
        PRINT '  '
        mov eax, [ebx + 16]
        cmp eax, 5
        ja .other
        mov esi, [memory_types + eax * 4]
        call puts
        jmp .next
.other: PRINT 'type '
        call print_hex32
.next:  PRINT 10
        add ebx, 24
        dec ecx
        jnz .entry
.summary:
        PRINT 'RAM ends at '
        mov eax, [ram_top]
        call print_hex32
        PRINT ' ('
        shr eax, 20
        call print_dec
        PRINT ' MiB). A20: '
        movzx eax, byte [a20_how]
        mov esi, [a20_names + eax * 4]
        call puts
        PRINT '.', 10
        PRINT 'Paging: page directory at '
        mov eax, PAGE_DIR
        call print_hex32
        PRINT ', 00001000-'
        mov eax, [mapped_top]
        dec eax
        call print_hex32
        PRINT ' mapped to itself,', 10
        PRINT '  4 KiB pages below 4 MiB (page table at '
        mov eax, PAGE_TABLE0
        call print_hex32
        PRINT '), 4 MiB pages above; page 0 is not mapped.', 10
        PRINT 'This program: '
        mov eax, 0x7C00
        call print_hex32
        PRINT '-'
        mov eax, bss_end - 1
        call print_hex32
        PRINT ', stack below '
        mov eax, STACK_TOP
        call print_hex32
        PRINT '.', 10
        ret

; print_addr64: EDX:EAX as 8 hex digits, or 16 when it is above 4 GiB.
print_addr64:
        test edx, edx
        jz .low
        xchg eax, edx
        call print_hex32
        xchg eax, edx
.low:   jmp print_hex32

memory_types:
        dd .t0, .t1, .t2, .t3, .t4, .t5
.t0:    db 'type 0', 0
.t1:    db 'usable RAM', 0
.t2:    db 'reserved', 0
.t3:    db 'ACPI tables (reclaimable)', 0
.t4:    db 'ACPI non-volatile', 0
.t5:    db 'bad memory', 0
a20_names:
        dd .off, .was_on, .bios, .port92
.off:    db 'could not be turned on', 0
.was_on: db 'was already on', 0
.bios:   db 'turned on by the BIOS (INT 15h AX=2401h)', 0
.port92: db 'turned on through port 92h', 0

; regs: the registers as this command sees them.
cmd_regs:
        pushad                      ; EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI
        mov ebp, esp                ; [ebp] = EDI ... [ebp+28] = EAX
        PRINT 'EAX='
        mov eax, [ebp + 28]
        call print_hex32
        PRINT ' EBX='
        mov eax, [ebp + 16]
        call print_hex32
        PRINT ' ECX='
        mov eax, [ebp + 24]
        call print_hex32
        PRINT ' EDX='
        mov eax, [ebp + 20]
        call print_hex32
        PRINT 10, 'ESI='
        mov eax, [ebp + 4]
        call print_hex32
        PRINT ' EDI='
        mov eax, [ebp]
        call print_hex32
        PRINT ' EBP='
        mov eax, [ebp + 8]
        call print_hex32
        PRINT ' ESP='
        mov eax, [ebp + 12]
        call print_hex32
        PRINT 10, 'EFLAGS='
        pushfd
        pop eax
        call print_hex32
        mov esi, eflags_names
        call print_bit_names
        PRINT 10, 'CS='
        mov ax, cs
        call print_hex16
        PRINT ' DS='
        mov ax, ds
        call print_hex16
        PRINT ' ES='
        mov ax, es
        call print_hex16
        PRINT ' FS='
        mov ax, fs
        call print_hex16
        PRINT ' GS='
        mov ax, gs
        call print_hex16
        PRINT ' SS='
        mov ax, ss
        call print_hex16
        PRINT 10, 'CR0='
        mov eax, cr0
        call print_hex32
        mov esi, cr0_names
        call print_bit_names
        PRINT ' CR2='
        mov eax, cr2
        call print_hex32
        PRINT ' CR3='
        mov eax, cr3
        call print_hex32
        PRINT ' CR4='
        mov eax, cr4
        call print_hex32
        mov esi, cr4_names
        call print_bit_names
        PRINT 10, 'GDTR='
        sgdt [table_register]
        call print_table_register
        PRINT ' IDTR='
        sidt [table_register]
        call print_table_register
        PRINT 10
        popad
        ret

; print_table_register: "base/limit" from the 6 bytes SGDT/SIDT stored.
print_table_register:
        mov eax, [table_register + 2]
        call print_hex32
        PRINT '/'
        mov ax, [table_register]
        jmp print_hex16

; print_bit_names: EAX = a register, ESI = a list of (bit number, name)
; pairs ending with bit 0xFF.  Prints " [NAME NAME ...]" for the set bits.
print_bit_names:
        push ebx
        push ecx
        PRINT ' ['
        xor ebx, ebx                ; names printed so far
.next:  movzx ecx, byte [esi]
        inc esi
        cmp cl, 0xFF
        je .end
        bt eax, ecx
        jnc .skip
        test ebx, ebx
        jz .first
        push eax
        mov al, ' '
        call putc
        pop eax
.first: inc ebx
        call puts
.skip:  cmp byte [esi], 0           ; step over the name
        lea esi, [esi + 1]
        jne .skip
        jmp .next
.end:   PRINT ']'
        pop ecx
        pop ebx
        ret

eflags_names:
        db 0, 'CF', 0, 2, 'PF', 0, 4, 'AF', 0, 6, 'ZF', 0, 7, 'SF', 0, 8, 'TF', 0
        db 9, 'IF', 0, 10, 'DF', 0, 11, 'OF', 0, 0xFF
cr0_names:
        db 0, 'PE', 0, 1, 'MP', 0, 2, 'EM', 0, 3, 'TS', 0, 4, 'ET', 0, 5, 'NE', 0
        db 16, 'WP', 0, 18, 'AM', 0, 29, 'NW', 0, 30, 'CD', 0, 31, 'PG', 0, 0xFF
cr4_names:
        db 0, 'VME', 0, 1, 'PVI', 0, 2, 'TSD', 0, 3, 'DE', 0, 4, 'PSE', 0
        db 5, 'PAE', 0, 7, 'PGE', 0, 0xFF

; peek ADDR [LEN]: a hex dump of memory.
cmd_peek:
        NEED_ARGS 2, 'peek ADDR [LEN]'
        mov ecx, 1
        call arg_hex
        mov esi, eax
        mov edx, eax
        mov eax, 0x40
        cmp dword [argc], 3
        jb .len
        mov ecx, 2
        call arg_hex
        cmp eax, 0x1000
        jbe .len
        mov eax, 0x1000             ; at most 4 KiB at a time
.len:   mov ecx, eax
        jmp hexdump

; poke ADDR BYTE...: write bytes.
cmd_poke:
        NEED_ARGS 3, 'poke ADDR BYTE...'
        mov ecx, 1
        call arg_hex
        mov edi, eax
        mov ecx, 2
.byte:  call arg_hex
        cmp eax, 0xFF
        ja .too_big
        mov [edi], al               ; (a page fault here ends the command)
        inc edi
        inc ecx
        cmp ecx, [argc]
        jb .byte
        dec ecx                     ; ECX = bytes written
        mov eax, ecx
        call print_dec
        PRINT ' byte(s) written', 10
        ret
.too_big:
        PRINT 'a byte is 0-FF', 10
        ret

; in PORT: read one byte from an I/O port.
cmd_in:
        NEED_ARGS 2, 'in PORT'
        mov ecx, 1
        call arg_hex
        cmp eax, 0xFFFF
        ja bad_port
        mov edx, eax
        PRINT 'port '
        call print_hex16
        in al, dx
        PRINT ' = '
        call print_hex8
        PRINT 10
        ret

; out PORT BYTE: write one byte to an I/O port.
cmd_out:
        NEED_ARGS 3, 'out PORT BYTE'
        mov ecx, 1
        call arg_hex
        cmp eax, 0xFFFF
        ja bad_port
        mov edx, eax
        mov ecx, 2
        call arg_hex
        cmp eax, 0xFF
        ja cmd_poke.too_big
        out dx, al
        PRINT 'port '
        xchg eax, edx
        call print_hex16
        PRINT ' <- '
        xchg eax, edx
        call print_hex8
        PRINT 10
        ret
bad_port:
        PRINT 'I/O ports are 0-FFFF', 10
        ret

; uptime: the timer interrupt counts ticks; TICK_HZ of them make a second.
cmd_uptime:
        mov eax, [ticks]
        xor edx, edx
        mov ecx, TICK_HZ
        div ecx                     ; EAX = seconds, EDX = hundredths
        PRINT 'up '
        call print_dec
        PRINT '.'
        mov al, dl
        call print_dec2
        PRINT ' s ('
        mov eax, [ticks]
        call print_dec
        PRINT ' ticks of IRQ0 at 100 Hz)', 10
        ret

; =============================================================================
; The RTC (MC146818): index port 0x70, data port 0x71.  Registers 0, 2, 4 are
; seconds, minutes, hours; 7, 8, 9 day, month, year; 0x32 the century.
; Register B tells the format: bit 2 = binary (else BCD), bit 1 = 24-hour.
; Register A bit 7 ("update in progress") is set while the clock ticks over.
; =============================================================================

; cmos_read: AL = CMOS register AL.
cmos_read:
        out 0x70, al
        in al, 0x71
        ret

cmd_date:
.uip:   mov al, 0x0A
        call cmos_read
        test al, 0x80               ; wait for the update to finish
        jnz .uip
        mov al, 0x0B
        call cmos_read
        mov [rtc_format], al
        mov esi, rtc_registers
        mov edi, rtc_values
        mov ecx, 7
.read:  lodsb
        call cmos_read
        stosb
        loop .read
        ; Convert from BCD: 0x59 means 59, i.e. high nibble * 10 + low nibble.
        mov esi, rtc_values
        mov ecx, 7
.conv:  mov al, [esi]
        cmp esi, rtc_values + 2     ; the hour: keep its PM bit out of the way
        jne .not_hour
        and al, 0x7F
.not_hour:
        test byte [rtc_format], 0x04
        jnz .binary
        call bcd_to_binary
.binary:
        mov [esi], al
        inc esi
        loop .conv
        ; 12-hour clock: 12 AM is 0, 1-11 PM are 13-23.
        test byte [rtc_format], 0x02
        jnz .h24
        mov al, [rtc_values + 2]
        cmp al, 12
        jne .not12
        xor al, al
.not12: mov ah, 0
        push eax
        mov al, 0x04
        call cmos_read
        test al, 0x80               ; PM?
        pop eax
        jz .am
        add al, 12
.am:    mov [rtc_values + 2], al
.h24:   movzx eax, byte [rtc_values + 6]   ; century
        cmp eax, 19
        jb .guess
        cmp eax, 21
        jbe .century
.guess: mov eax, 20                 ; no century register: assume 20xx
.century:
        call print_dec2
        mov al, [rtc_values + 5]    ; year
        call print_dec2
        PRINT '-'
        mov al, [rtc_values + 4]    ; month
        call print_dec2
        PRINT '-'
        mov al, [rtc_values + 3]    ; day
        call print_dec2
        PRINT ' '
        mov al, [rtc_values + 2]
        call print_dec2
        PRINT ':'
        mov al, [rtc_values + 1]
        call print_dec2
        PRINT ':'
        mov al, [rtc_values + 0]
        call print_dec2
        PRINT ' (RTC register B = '
        mov al, [rtc_format]
        call print_hex8
        PRINT ')', 10
        ret

bcd_to_binary:
        push ecx
        mov cl, al
        shr al, 4
        mov ah, 10
        mul ah                      ; AX = tens * 10
        and cl, 0x0F
        add al, cl
        pop ecx
        ret

; seconds, minutes, hours, day, month, year, century
rtc_registers: db 0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32

; =============================================================================
; reboot and quit.
; =============================================================================
cmd_reboot:
        PRINT 'rebooting: 8042 command FE pulses the CPU reset line', 10
        cli
.wait:  in al, 0x64                 ; wait until the 8042 can take a command
        test al, 0x02               ; (status bit 1: input buffer full)
        jnz .wait
        mov al, 0xFE
        out 0x64, al
        ; Still here?  Load an empty IDT and raise an exception: with no way
        ; to report it the CPU shuts down (triple fault), which also resets.
        lidt [.no_idt]
        int3
.no_idt: dw 0
        dd 0

cmd_quit:
        PRINT 'power off: writing 0 to the isa-debug-exit port F4', 10
        xor eax, eax
        out 0xF4, al
        PRINT 'nothing answered at port F4 (not QEMU or visor86); halting.', 10
        cli
.halt:  hlt
        jmp .halt

; =============================================================================
; The ATA disk (primary channel, master drive), by programmed I/O: the CPU
; moves every 16-bit word through the data port 0x1F0 with IN/OUT.
;   0x1F0 data   0x1F1 error   0x1F2 sector count   0x1F3-0x1F5 LBA bits 0-23
;   0x1F6 drive/head: 0xE0 | LBA bits 24-27 = master, LBA mode
;   0x1F7 status (read) / command (write)   0x3F6 device control
;   status bits: 7 BSY busy, 6 DRDY ready, 5 DF fault, 3 DRQ data wanted, 0 ERR
; We poll the status instead of taking IRQ14 (nIEN set in device control).
; =============================================================================
ATA_DATA        equ 0x1F0
ATA_ERROR       equ 0x1F1
ATA_COUNT       equ 0x1F2
ATA_LBA_LOW     equ 0x1F3
ATA_LBA_MID     equ 0x1F4
ATA_LBA_HIGH    equ 0x1F5
ATA_DRIVE       equ 0x1F6
ATA_STATUS      equ 0x1F7
ATA_COMMAND     equ 0x1F7
ATA_CONTROL     equ 0x3F6
ATA_BSY         equ 0x80
ATA_DRQ         equ 0x08
ATA_ERR_DF      equ 0x21
CMD_READ        equ 0x20
CMD_WRITE       equ 0x30
CMD_FLUSH       equ 0xE7
CMD_IDENTIFY    equ 0xEC

; ata_wait: wait until BSY clears; AL = status.  CF = 1 on a timeout or when
; ERR/DF is set.
ata_wait:
        push ecx
        push edx
        mov ecx, 1000000
        mov dx, ATA_STATUS
.poll:  in al, dx
        test al, ATA_BSY
        jz .ready
        loop .poll
        stc
        jmp .out
.ready: test al, ATA_ERR_DF
        jz .out                     ; (TEST clears CF)
        stc
.out:   pop edx
        pop ecx
        ret

; ata_start: EAX = LBA, BL = command: select the master in LBA mode, write the
; sector count (1) and address, then the command.
ata_start:
        push eax
        mov dx, ATA_CONTROL
        mov al, 0x02                ; nIEN: no IRQ14, we poll
        out dx, al
        pop eax
        push eax
        shr eax, 24
        and al, 0x0F
        or al, 0xE0                 ; master, LBA
        mov dx, ATA_DRIVE
        out dx, al
        mov dx, ATA_CONTROL         ; reading the alternate status 4 times
        in al, dx                   ; waits the 400 ns a drive needs to
        in al, dx                   ; answer a new selection
        in al, dx
        in al, dx
        call ata_wait
        pop eax
        jc .out
        push eax
        mov dx, ATA_COUNT
        mov al, 1
        out dx, al
        pop eax
        mov dx, ATA_LBA_LOW
        out dx, al
        shr eax, 8
        mov dx, ATA_LBA_MID
        out dx, al
        shr eax, 8
        mov dx, ATA_LBA_HIGH
        out dx, al
        mov al, bl
        mov dx, ATA_COMMAND
        out dx, al
        clc
.out:   ret

; ata_read: EAX = LBA, EDI = 512-byte buffer.  CF = 1 on error.
ata_read:
        pushad
        mov bl, CMD_READ
        call ata_start
        jc .out
        call ata_wait
        jc .out
        test al, ATA_DRQ
        jz .fail
        mov dx, ATA_DATA
        mov ecx, 256
        rep insw                    ; 256 words from the data port to [EDI]
        clc
        jmp .out
.fail:  stc
.out:   popad
        ret

; ata_write: EAX = LBA, ESI = 512-byte buffer.  CF = 1 on error.
ata_write:
        pushad
        mov bl, CMD_WRITE
        call ata_start
        jc .out
        call ata_wait
        jc .out
        test al, ATA_DRQ
        jz .fail
        mov dx, ATA_DATA
        mov ecx, 256
        rep outsw                   ; 256 words from [ESI] to the data port
        call ata_wait               ; the drive writes the sector
        jc .out
        mov dx, ATA_COMMAND
        mov al, CMD_FLUSH           ; and its cache, to the medium
        out dx, al
        call ata_wait
        jmp .out
.fail:  stc
.out:   popad
        ret

; ata_identify: EDI = 512-byte buffer.  CF = 1 when there is no ATA disk.
ata_identify:
        pushad
        mov dx, ATA_CONTROL
        mov al, 0x02
        out dx, al
        mov dx, ATA_DRIVE
        mov al, 0xA0                ; master
        out dx, al
        mov dx, ATA_CONTROL
        in al, dx
        in al, dx
        in al, dx
        in al, dx
        mov dx, ATA_STATUS
        in al, dx
        cmp al, 0xFF                ; nothing answers: a floating bus
        je .fail
        test al, al                 ; a channel with no drive on it
        jz .fail
        call ata_wait
        jc .fail
        mov dx, ATA_COMMAND
        mov al, CMD_IDENTIFY
        out dx, al
        call ata_wait
        jc .fail
        test al, ATA_DRQ
        jz .fail
        mov dx, ATA_DATA
        mov ecx, 256
        rep insw
        clc
        jmp .out
.fail:  stc
.out:   popad
        ret

; disk id | read LBA | write LBA TEXT
cmd_disk:
        NEED_ARGS 2, 'disk id | disk read LBA | disk write LBA TEXT'
        mov esi, [argv + 4]
        mov edi, .id
        call streq
        je disk_id
        mov edi, .read
        call streq
        je disk_read
        mov edi, .write
        call streq
        je disk_write
        PRINT 'usage: disk id | disk read LBA | disk write LBA TEXT', 10
        ret
.id:    db 'id', 0
.read:  db 'read', 0
.write: db 'write', 0

disk_id:
        mov edi, sector_buf
        call ata_identify
        jc disk_error
        ; IDENTIFY words 27-46: the model name, 40 characters, with the two
        ; bytes of each word swapped (the first character is the high byte).
        PRINT 'ATA disk: model "'
        mov esi, sector_buf + 27 * 2
        mov ecx, 40
        call print_ata_string
        PRINT '", serial "'
        mov esi, sector_buf + 10 * 2
        mov ecx, 20
        call print_ata_string
        PRINT '"', 10
        ; Words 60-61: the number of sectors reachable with 28-bit LBA.
        mov eax, [sector_buf + 60 * 2]
        PRINT '  '
        call print_dec
        PRINT ' sectors of 512 bytes ('
        shr eax, 1
        call print_dec
        PRINT ' KiB), LBA28', 10
        ret

; print_ata_string: ECX characters (an even number) at ESI, with the bytes
; of each word swapped back, and without the trailing spaces.
print_ata_string:
        pushad
        xor edx, edx
.swap:  mov ax, [esi + edx]
        xchg al, ah
        mov [text_buf + edx], ax
        add edx, 2
        cmp edx, ecx
        jb .swap
.trim:  jecxz .print
        cmp byte [text_buf + ecx - 1], ' '
        jne .print
        dec ecx
        jmp .trim
.print: mov byte [text_buf + ecx], 0
        mov esi, text_buf
        call puts
        popad
        ret

disk_read:
        NEED_ARGS 3, 'disk read LBA'
        mov ecx, 2
        call arg_hex
        cmp eax, 0x0FFFFFFF
        ja disk_bad_lba
        mov edi, sector_buf
        call ata_read
        jc disk_error
        PRINT 'sector '
        call print_hex32
        PRINT ':', 10
        mov esi, sector_buf
        mov ecx, 512
        xor edx, edx                ; label the lines with offsets 000-1F0
        jmp hexdump

disk_write:
        NEED_ARGS 4, 'disk write LBA TEXT'
        mov ecx, 2
        call arg_hex
        cmp eax, 0x0FFFFFFF
        ja disk_bad_lba
        mov ebx, eax
        ; The text is the rest of the line: split_words put a 0 after each
        ; word, so turn those back into spaces.
        mov edi, sector_buf
        xor eax, eax
        mov ecx, 512 / 4
        rep stosd                   ; the sector starts as zeros
        mov esi, [argv + 12]
        mov ecx, line_buf
        add ecx, [line_len]
        sub ecx, esi                ; ECX = length of the text
        mov edi, sector_buf
        push ecx
.copy:  lodsb
        test al, al
        jnz .store
        mov al, ' '
.store: stosb
        loop .copy
        mov eax, ebx
        mov esi, sector_buf
        call ata_write
        pop ecx
        jc disk_error
        PRINT 'wrote '
        mov eax, ecx
        call print_dec
        PRINT ' bytes of text and '
        mov eax, 512
        sub eax, ecx
        call print_dec
        PRINT ' zeros to sector '
        mov eax, ebx
        call print_hex32
        PRINT 10
        ret

disk_bad_lba:
        PRINT 'LBA28 sector numbers are 0-FFFFFFF', 10
        ret

disk_error:
        PRINT 'disk error: status '
        mov dx, ATA_STATUS
        in al, dx
        call print_hex8
        PRINT ', error '
        mov dx, ATA_ERROR
        in al, dx
        call print_hex8
        PRINT ' (no disk, or a sector past its end?)', 10
        ret

; =============================================================================
; Data that starts out as zeros: not stored in the image.
; =============================================================================
        align 512, db 0
image_end:

        section .bss
bss_start:
ticks:          resd 1
ram_top:        resd 1
mapped_top:     resd 1
argc:           resd 1
argv:           resd MAX_ARGS
line_len:       resd 1
e820_count:     resw 1
a20_how:        resb 1
last_key:       resb 1
rx_head:        resb 1
rx_tail:        resb 1
rtc_format:     resb 1
rtc_values:     resb 7
table_register: resb 6
line_buf:       resb LINE_MAX + 1
text_buf:       resb 41
                alignb 8
idt:            resb 256 * 8
rx_buf:         resb 256
e820_map:       resb 24 * E820_MAX
sector_buf:     resb 512
bss_end:
