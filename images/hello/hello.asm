; =============================================================================
; hello — the smallest useful PC program: one 512-byte boot sector.
;
; Boot it from a floppy (or a hard disk).  The BIOS loads this sector to
; physical address 0x7C00 and jumps to it in 16-bit real mode.  It then says
; hello twice:
;
;   1. through the BIOS: INT 10h, function AH=0Eh ("teletype output") writes a
;      character on the screen and moves the cursor, like a typewriter.  The
;      visor86 BIOS can copy that text to COM1 as well;
;   2. straight to the hardware: the first serial port, COM1, is a 16550 UART
;      at I/O ports 0x3F8-0x3FF.  We program it and write each byte to its
;      transmit register with the OUT instruction.  No BIOS involved.
;
; Then it stops the CPU: CLI (no interrupts) + HLT (halt until an interrupt)
; means "stop for good".
;
; Build: nasm -f bin -o hello.bin hello.asm   (exactly 512 bytes)
; =============================================================================

        org 0x7C00              ; the BIOS puts us at 0000:7C00
        bits 16                 ; the CPU starts in 16-bit real mode

COM1    equ 0x3F8               ; base I/O port of the first serial port

start:
        cli
        xor ax, ax
        mov ds, ax              ; DS = 0, so [label] means physical address label
        mov ss, ax
        mov sp, 0x7C00          ; a stack just below this sector
        jmp 0x0000:.go          ; make CS = 0 too (some BIOSes use 07C0:0000)
.go:    sti
        cld
        mov [boot_drive], dl    ; the BIOS tells us which drive we came from

; ---- 1. Through the BIOS ----------------------------------------------------
        mov si, msg_bios
        call bios_print

; ---- 2. Straight to COM1 ----------------------------------------------------
        ; Program the UART: 115200 baud, 8 data bits, no parity, 1 stop bit.
        mov dx, COM1 + 1
        mov al, 0x00
        out dx, al              ; IER = 0: no interrupts, we will poll
        mov dx, COM1 + 3
        mov al, 0x80
        out dx, al              ; LCR: DLAB = 1 selects the baud-rate divisor
        mov dx, COM1 + 0
        mov al, 1
        out dx, al              ; divisor low byte: 115200 / 1 = 115200 baud
        mov dx, COM1 + 1
        mov al, 0
        out dx, al              ; divisor high byte
        mov dx, COM1 + 3
        mov al, 0x03
        out dx, al              ; LCR: 8 bits, no parity, 1 stop bit, DLAB = 0
        mov dx, COM1 + 2
        mov al, 0x07
        out dx, al              ; FCR: FIFOs on and emptied
        mov dx, COM1 + 4
        mov al, 0x03
        out dx, al              ; MCR: DTR + RTS ("ready")

        mov si, msg_com1
        call com1_print

        ; Tell which drive we booted from: the BIOS passed its number in DL.
        mov si, msg_drive
        call com1_print
        mov al, [boot_drive]
        call com1_hex8
        mov si, msg_drive_end
        call com1_print

        mov si, msg_bye
        call com1_print

halt:   cli                     ; interrupts off ...
        hlt                     ; ... so this HLT never wakes up
        jmp halt

; bios_print: print the zero-terminated string at DS:SI with INT 10h.
bios_print:
        lodsb                   ; AL = next character, SI advances
        test al, al
        jz .done
        mov ah, 0x0E            ; teletype output
        mov bx, 0x0007          ; BH = page 0, BL = colour (light grey)
        int 0x10
        jmp bios_print
.done:  ret

; com1_print: send the zero-terminated string at DS:SI to COM1.
com1_print:
        lodsb
        test al, al
        jz .done
        call com1_putc
        jmp com1_print
.done:  ret

; com1_putc: wait until the UART can take a byte, then send AL.
com1_putc:
        push ax
        mov dx, COM1 + 5        ; LSR, the line status register
.wait:  in al, dx
        test al, 0x20           ; bit 5: transmit holding register empty
        jz .wait
        pop ax
        mov dx, COM1            ; THR, the transmit holding register
        out dx, al
        ret

; com1_hex8: print AL as two hexadecimal digits.
com1_hex8:
        push ax
        shr al, 4               ; high nibble first
        call .digit
        pop ax
.digit: and al, 0x0F
        add al, '0'
        cmp al, '9'
        jbe com1_putc
        add al, 'A' - '9' - 1
        jmp com1_putc

msg_bios:       db 'hello: Hello, world! This line was printed by the BIOS (INT 10h).', 13, 10, 0
msg_com1:       db 'hello: Hello, world! This line went straight to COM1 (port 0x3F8).', 13, 10, 0
msg_drive:      db 'hello: booted from BIOS drive 0x', 0
msg_drive_end:  db ' (00 = floppy A:, 80 = first hard disk).', 13, 10, 0
msg_bye:        db 'hello: done; the CPU is halted.', 13, 10, 0
boot_drive:     db 0

        times 510 - ($ - $$) db 0   ; fill the sector up to byte 510 ...
        dw 0xAA55                   ; ... and end with the boot signature 55 AA
