; =============================================================================
; disk — talk to the hard disk through its I/O ports, and count boots.
;
; Every boot it:
;   1. asks the disk who it is (ATA IDENTIFY DEVICE);
;   2. reads sector 32, where it keeps a boot counter, and shows the previous
;      boot's number (or says that there was none);
;   3. writes a pattern to sectors 64-127 with one WRITE SECTORS command, reads
;      them back with one READ SECTORS command and compares every byte;
;   4. reads sector 64 once more through the BIOS (INT 13h AH=42h) to see
;      that the BIOS and the ports agree;
;   5. saves the new count in sector 32 and halts.
; Keep the disk and reboot: the counter goes up.  A fresh copy of the image
; starts again from boot #1.
;
; The program runs in 16-bit real mode (it needs no protected mode: the IN and
; OUT instructions work the same in every mode).  It is loaded by the boot
; sector in lib/bootsector.inc.
;
; ATA primary channel registers (the master drive is the boot disk):
;   0x1F0 data (16 bits)   0x1F1 error     0x1F2 sector count
;   0x1F3 LBA bits 0-7     0x1F4 bits 8-15 0x1F5 bits 16-23
;   0x1F6 drive: 0xE0 | LBA bits 24-27 (master, LBA addressing)
;   0x1F7 status (read) / command (write)     0x3F6 device control
;   status: bit 7 BSY busy, 6 DRDY ready, 5 DF fault, 3 DRQ data, 0 ERR
;
; Build: nasm -f bin -I ../lib/ -o disk.bin disk.asm
; =============================================================================

        org 0x7C00
        bits 16

%define BOOT_TITLE 'disk'
%include "bootsector.inc"

COUNTER_LBA     equ 32              ; the sector with the boot counter
PATTERN_LBA     equ 64              ; the first sector of the test pattern
PATTERN_SECTORS equ 64              ; 64 sectors = 32 KiB

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
CMD_READ        equ 0x20            ; READ SECTORS (PIO, LBA28)
CMD_WRITE       equ 0x30            ; WRITE SECTORS
CMD_FLUSH       equ 0xE7            ; FLUSH CACHE
CMD_IDENTIFY    equ 0xEC            ; IDENTIFY DEVICE

stage2:
        jmp main                    ; step over the library routines
%include "serial16.inc"

main:
        call rm_com1_init
        RM_PRINT 'disk: ATA disk test and boot counter, talking to ports 1F0-1F7', 10

; ---- 1. Who is there? --------------------------------------------------------
        call ata_identify
        jc fatal
        RM_PRINT 'disk: IDENTIFY says model "'
        call print_model
        RM_PRINT '", '
        mov eax, [sector_buf + 60 * 2]      ; words 60-61: LBA28 sector count
        call rm_dec
        RM_PRINT ' sectors', 10

; ---- 2. The counter from the last boot ---------------------------------------
        mov eax, COUNTER_LBA
        mov cx, 1
        mov byte [ata_op], CMD_READ
        call ata_command
        jc fatal
        call ata_read_block
        jc fatal
        mov si, sector_buf
        mov di, counter_signature
        mov cx, COUNTER_SIG_LEN
        repe cmpsb                  ; is our signature there?
        jne .no_counter
        mov eax, [sector_buf + COUNTER_SIG_LEN]
        mov [boot_count], eax
        RM_PRINT 'disk: sector 32 says the previous boot was boot #'
        call rm_dec
        RM_PRINT 10
        jmp .counted
.no_counter:
        RM_PRINT 'disk: sector 32 holds no counter: this disk has not run this program before', 10
.counted:
        inc dword [boot_count]

; ---- 3. Write a pattern, read it back, compare --------------------------------
        RM_PRINT 'disk: writing 64 sectors (32 KiB) at sector 64 with one WRITE SECTORS command', 10
        mov eax, PATTERN_LBA
        mov cx, PATTERN_SECTORS
        mov byte [ata_op], CMD_WRITE
        call ata_command
        jc fatal
        xor bx, bx                  ; BX = sector number within the pattern
.write: call make_pattern           ; sector_buf = the pattern for sector BX
        call ata_write_block        ; one sector = 256 words through port 1F0
        jc fatal
        inc bx
        cmp bx, PATTERN_SECTORS
        jb .write
        call ata_flush
        jc fatal

        RM_PRINT 'disk: reading them back with one READ SECTORS command', 10
        mov eax, PATTERN_LBA
        mov cx, PATTERN_SECTORS
        mov byte [ata_op], CMD_READ
        call ata_command
        jc fatal
        xor bx, bx
        xor ebp, ebp                ; EBP = bytes that differ
        xor edx, edx                ; EDX = a checksum of all the data
.read:  call ata_read_block
        jc fatal
        mov si, sector_buf          ; keep what the disk gave us ...
        mov di, read_buf
        mov cx, 512 / 4
        rep movsd
        call make_pattern           ; ... and compare with what we wrote
        mov si, read_buf
        mov di, sector_buf
        mov cx, 512
.compare:
        lodsb
        movzx eax, al
        rol edx, 1
        add edx, eax
        cmp al, [di]
        je .same
        inc ebp
.same:  inc di
        loop .compare
        inc bx
        cmp bx, PATTERN_SECTORS
        jb .read
        test ebp, ebp
        jnz .mismatch
        RM_PRINT 'disk: all 32768 bytes match (checksum '
        mov eax, edx
        call rm_hex32
        RM_PRINT ')', 10
        jmp .verified
.mismatch:
        RM_PRINT 'disk: MISMATCH: '
        mov eax, ebp
        call rm_dec
        RM_PRINT ' bytes differ', 10
.verified:

; ---- 4. The same sector through the BIOS --------------------------------------
        mov si, bios_dap            ; INT 13h AH=42h: extended read with a
        mov ah, 0x42                ; disk address packet at DS:SI
        mov dl, [boot_drive]
        int 0x13
        jc .bios_failed
        xor bx, bx
        call make_pattern
        mov si, read_buf
        mov di, sector_buf
        mov cx, 512
        repe cmpsb
        jne .bios_differs
        RM_PRINT 'disk: sector 64 read through the BIOS (INT 13h AH=42h) matches too', 10
        jmp .bios_done
.bios_failed:
        RM_PRINT 'disk: the BIOS extended read (INT 13h AH=42h) failed', 10
        jmp .bios_done
.bios_differs:
        RM_PRINT 'disk: MISMATCH: the BIOS read different bytes from sector 64', 10
.bios_done:

; ---- 5. Save the counter ------------------------------------------------------
        mov di, sector_buf          ; signature, count, then zeros
        xor eax, eax
        mov cx, 512 / 4
        rep stosd
        mov si, counter_signature
        mov di, sector_buf
        mov cx, COUNTER_SIG_LEN
        rep movsb
        mov eax, [boot_count]
        mov [sector_buf + COUNTER_SIG_LEN], eax
        mov eax, COUNTER_LBA
        mov cx, 1
        mov byte [ata_op], CMD_WRITE
        call ata_command
        jc fatal
        call ata_write_block
        jc fatal
        call ata_flush
        jc fatal
        RM_PRINT 'disk: this is boot #'
        mov eax, [boot_count]
        call rm_dec
        RM_PRINT '; the count is saved in sector 32', 10
        RM_PRINT 'disk: done. Reboot with the same disk and the count goes up.', 10
halt:   cli
        hlt
        jmp halt

fatal:
        RM_PRINT 'disk: ATA error: status '
        mov dx, ATA_STATUS
        in al, dx
        call rm_hex8
        RM_PRINT ', error '
        mov dx, ATA_ERROR
        in al, dx
        call rm_hex8
        RM_PRINT 10
        jmp halt

; make_pattern: fill sector_buf with the pattern of pattern sector BX for
; this boot: dword i = (sector * 128 + i) * 0x01000193 xor count * 0x9E3779B9.
; Every sector and every boot gets different bytes.
make_pattern:
        pushad
        movzx esi, bx
        shl esi, 7                  ; sector * 128
        mov ebx, [boot_count]
        imul ebx, ebx, 0x9E3779B9
        xor edi, edi
.dword: lea eax, [esi + edi]
        imul eax, eax, 0x01000193
        xor eax, ebx
        mov [sector_buf + di], eax
        add di, 4
        cmp di, 512
        jb .dword
        popad
        ret

; ---- The ATA driver ------------------------------------------------------------

; ata_wait: wait while the drive is busy; AL = status.  CF = 1 when it never
; gets ready or reports an error (ERR or DF).
ata_wait:
        push ecx
        push dx
        mov ecx, 1000000
        mov dx, ATA_STATUS
.poll:  in al, dx
        test al, ATA_BSY
        jz .ready
        dec ecx
        jnz .poll
        stc
        jmp .out
.ready: test al, ATA_ERR_DF         ; (TEST also clears CF)
        jz .out
        stc
.out:   pop dx
        pop ecx
        ret

; ata_select: select the master drive with LBA bits 24-27 from EAX, and wait
; the 400 ns a drive needs to answer (four reads of the alternate status).
ata_select:
        push eax
        push dx
        mov dx, ATA_CONTROL
        mov al, 0x02                ; nIEN: no IRQ14, we poll the status
        out dx, al
        pop dx
        pop eax
        push eax
        push dx
        shr eax, 24
        and al, 0x0F
        or al, 0xE0
        mov dx, ATA_DRIVE
        out dx, al
        mov dx, ATA_CONTROL
        in al, dx
        in al, dx
        in al, dx
        in al, dx
        pop dx
        pop eax
        jmp ata_wait

; ata_command: start command [ata_op] on CX sectors (1-255) from LBA EAX.
ata_command:
        push eax
        push ebx
        push dx
        mov ebx, eax
        call ata_select
        jc .out
        mov dx, ATA_COUNT
        mov al, cl
        out dx, al
        mov eax, ebx
        mov dx, ATA_LBA_LOW
        out dx, al
        shr eax, 8
        mov dx, ATA_LBA_MID
        out dx, al
        shr eax, 8
        mov dx, ATA_LBA_HIGH
        out dx, al
        mov al, [ata_op]
        mov dx, ATA_COMMAND
        out dx, al
        clc
.out:   pop dx
        pop ebx
        pop eax
        ret

; ata_read_block: wait for the next sector of a READ command and copy its 256
; words from the data port to sector_buf.
ata_read_block:
        pusha
        call ata_wait
        jc .out
        test al, ATA_DRQ
        stc
        jz .out
        mov dx, ATA_DATA
        mov di, sector_buf
        mov cx, 256
        rep insw                    ; ES:DI <- port DX, CX times
        clc
.out:   popa
        ret

; ata_write_block: wait until the drive asks for the next sector of a WRITE
; command and send sector_buf.
ata_write_block:
        pusha
        call ata_wait
        jc .out
        test al, ATA_DRQ
        stc
        jz .out
        mov dx, ATA_DATA
        mov si, sector_buf
        mov cx, 256
        rep outsw                   ; port DX <- DS:SI, CX times
        clc
.out:   popa
        ret

; ata_flush: wait for the last sector to be written, then FLUSH CACHE.
ata_flush:
        push dx
        call ata_wait
        jc .out
        mov dx, ATA_COMMAND
        mov al, CMD_FLUSH
        out dx, al
        call ata_wait
.out:   pop dx
        ret

; ata_identify: IDENTIFY DEVICE into sector_buf.  CF = 1 if there is no disk.
ata_identify:
        xor eax, eax
        call ata_select
        jc .out
        mov dx, ATA_COMMAND
        mov al, CMD_IDENTIFY
        out dx, al
        call ata_read_block
.out:   ret

; print_model: IDENTIFY words 27-46 are the model name; each word holds two
; characters with the first one in the high byte.  Trailing spaces are cut.
print_model:
        mov cx, 40
.trim:  mov bx, cx
        dec bx
        xor bx, 1                   ; character n lives at byte n xor 1
        cmp byte [sector_buf + 27 * 2 + bx], ' '
        jne .print
        loop .trim
.print: xor bx, bx
.char:  cmp bx, cx
        jae .done
        push bx
        xor bx, 1
        mov al, [sector_buf + 27 * 2 + bx]
        pop bx
        call rm_putc
        inc bx
        jmp .char
.done:  ret

counter_signature: db 'visor86 disk guest boot counter', 0
COUNTER_SIG_LEN equ $ - counter_signature

boot_count:     dd 0
ata_op:         db 0

; The disk address packet for the BIOS read of sector 64 into read_buf.
bios_dap:       db 16, 0
                dw 1                ; one sector
                dw read_buf, 0      ; buffer offset, segment
                dq PATTERN_LBA

        align 512, db 0
image_end:

        section .bss
        alignb 16
sector_buf:     resb 512
read_buf:       resb 512
