; =============================================================================
; life — Conway's Game of Life on the VGA text screen, steered from the
; keyboard.
;
; The rules: on a grid of cells, each alive or dead, the next generation is
;   - a live cell with 2 or 3 live neighbours stays alive;
;   - a dead cell with exactly 3 live neighbours comes alive;
;   - every other cell is dead.
; The grid wraps around: the left edge touches the right, the top the bottom.
;
; What it shows about the PC:
;   - the VGA text screen is memory: 80 x 25 cells at physical 0xB8000, two
;     bytes each (the character, then its colours), so drawing is a MOV;
;   - the keyboard is read through the 8042 keyboard controller: each key
;     press raises IRQ1, and the handler reads the scan code from port 0x60;
;   - the timer (PIT, IRQ0, 18.2 times a second) paces the generations, and
;     between ticks the CPU sleeps in HLT.
; We install our own handlers for IRQ0 and IRQ1 in the real-mode interrupt
; vector table (vectors 08h and 09h), replacing the BIOS's.
;
; Keys: Space pause/run, N one step (when paused), R a new random soup,
;       C clear, G a glider gun, Q quit (power off).
; COM1 gets a line for each key and every 100 generations.
;
; Boots from a floppy; the boot sector (lib/bootsector.inc) loads the rest.
; Build: nasm -f bin -I ../lib/ -o life.bin life.asm
; =============================================================================

        org 0x7C00
        bits 16

%define BOOT_TITLE 'life'
%include "bootsector.inc"

COLS            equ 80
ROWS            equ 23              ; screen rows 1-23; row 0 title, row 24 status
STRIDE          equ COLS + 2        ; the grid has a border column on each side ...
GRID_BYTES      equ STRIDE * (ROWS + 2) ; ... and a border row above and below
VGA_SEGMENT     equ 0xB800
CELL_CHAR       equ 0xFE            ; a small square (code page 437)
CELL_COLOUR     equ 0x0A            ; light green on black
TICKS_PER_GEN   equ 2               ; about 9 generations a second

; Scan codes (set 1, what the 8042 delivers after translation) of the keys.
SC_Q            equ 0x10
SC_R            equ 0x13
SC_G            equ 0x22
SC_C            equ 0x2E
SC_N            equ 0x31
SC_SPACE        equ 0x39

stage2:
        jmp main
%include "serial16.inc"

main:
        call rm_com1_init
        RM_PRINT "life: Conway's Game of Life on the VGA text screen", 10
        RM_PRINT 'life: keys: Space pause/run, N step, R random, C clear, G glider gun, Q quit', 10

        ; Hide the blinking cursor: CRTC register 0Ah (cursor start), bit 5 = off.
        mov dx, 0x3D4
        mov al, 0x0A
        out dx, al
        inc dx
        mov al, 0x20
        out dx, al

        call clear_screen
        call draw_title

        ; Take over IRQ0 (vector 08h) and IRQ1 (vector 09h).  Each vector is
        ; 4 bytes at address vector * 4: offset, then segment.
        cli
        mov word [0x08 * 4], timer_irq
        mov word [0x08 * 4 + 2], 0
        mov word [0x09 * 4], keyboard_irq
        mov word [0x09 * 4 + 2], 0
        in al, 0x21                 ; PIC mask: make sure IRQ0 and IRQ1 are on
        and al, 0xFC
        out 0x21, al
        sti

        mov dword [rng_state], 0x2545F491
        call random_soup
        mov byte [running], 1
        call draw_grid
        call draw_status

; ---- The main loop: sleep, then handle keys and the timer. --------------------
main_loop:
        hlt                         ; wait for an interrupt (timer or key)
.keys:  call next_key               ; AL = scan code, or ZF = 1 when none
        jz .time
        call handle_key
        jmp .keys
.time:  cmp byte [running], 0
        je main_loop
        mov ax, [ticks]
        sub ax, [last_step]
        cmp ax, TICKS_PER_GEN
        jb main_loop
        mov ax, [ticks]
        mov [last_step], ax
        call step_and_show
        jmp main_loop

; step_and_show: one generation, drawn, reported on COM1 every 100.
step_and_show:
        call step
        call draw_grid
        call draw_status
        mov eax, [generation]
        xor edx, edx
        mov ecx, 100
        div ecx
        test edx, edx
        jnz .done
        RM_PRINT 'life: generation '
        mov eax, [generation]
        call rm_dec
        RM_PRINT ', population '
        mov eax, [population]
        call rm_dec
        RM_PRINT 10
.done:  ret

; handle_key: act on the scan code in AL.  Key releases (bit 7 set) and
; other keys are ignored.
handle_key:
        cmp al, SC_SPACE
        jne .not_space
        xor byte [running], 1
        RM_PRINT 'life: key Space: '
        cmp byte [running], 0
        je .paused
        RM_PRINT 'running', 10
        jmp .redraw
.paused:
        RM_PRINT 'paused', 10
        jmp .redraw
.not_space:
        cmp al, SC_N
        jne .not_n
        RM_PRINT 'life: key N: one step', 10
        jmp step_and_show
.not_n: cmp al, SC_R
        jne .not_r
        RM_PRINT 'life: key R: a new random soup', 10
        call random_soup
        jmp .redraw
.not_r: cmp al, SC_C
        jne .not_c
        RM_PRINT 'life: key C: clear', 10
        call clear_grid
        jmp .redraw
.not_c: cmp al, SC_G
        jne .not_g
        RM_PRINT 'life: key G: a glider gun', 10
        call clear_grid
        call glider_gun
        jmp .redraw
.not_g: cmp al, SC_Q
        jne .done
        RM_PRINT 'life: key Q: bye', 10
        mov al, 0
        out 0xF4, al                ; isa-debug-exit: the emulator stops here
        cli
.halt:  hlt
        jmp .halt
.redraw:
        call count_population
        call draw_grid
        call draw_status
.done:  ret

; ---- Interrupt handlers ---------------------------------------------------------

; timer_irq: count ticks.  Every hardware interrupt handler must tell the PIC
; "end of interrupt" (write 20h to port 20h), or no further IRQ of this or a
; lower priority arrives.
timer_irq:
        inc word [cs:ticks]
        push ax
        mov al, 0x20
        out 0x20, al
        pop ax
        iret

; keyboard_irq: the 8042 has a byte for us: read it from port 0x60 (this also
; lets the controller send the next one) and queue it.
keyboard_irq:
        push ax
        push bx
        in al, 0x60
        movzx bx, byte [cs:key_head]
        mov [cs:key_queue + bx], al
        inc bl
        and bl, 15                  ; a 16-byte ring
        cmp bl, [cs:key_tail]
        je .full                    ; full: drop the byte
        mov [cs:key_head], bl
.full:  mov al, 0x20
        out 0x20, al
        pop bx
        pop ax
        iret

; next_key: AL = the next key press from the queue; ZF = 1 when there is
; none.  Key releases (scan code bit 7 = 1) are skipped.
next_key:
        push bx
.again: cli                         ; the IRQ1 handler changes key_head
        movzx bx, byte [key_tail]
        cmp bl, [key_head]
        je .empty
        mov al, [key_queue + bx]
        inc bl
        and bl, 15
        mov [key_tail], bl
        sti
        test al, 0x80
        jnz .again                  ; a release
        or bl, 1                    ; ZF = 0: a key
        pop bx
        ret
.empty: sti
        xor bx, bx                  ; ZF = 1
        pop bx
        ret

; ---- The game -------------------------------------------------------------------

; step: compute the next generation from grid into next_grid, then copy it
; back.  Border cells hold a copy of the opposite edge, so every cell has 8
; neighbours at fixed distances: -STRIDE-1, -STRIDE, ... +STRIDE+1.
step:
        call wrap_edges
        xor ebp, ebp                ; the population
        mov si, grid + STRIDE + 1   ; the first real cell
        mov di, next_grid + STRIDE + 1
        mov dx, ROWS
.row:   mov cx, COLS
.cell:  mov al, [si - STRIDE - 1]
        add al, [si - STRIDE]
        add al, [si - STRIDE + 1]
        add al, [si - 1]
        add al, [si + 1]
        add al, [si + STRIDE - 1]
        add al, [si + STRIDE]
        add al, [si + STRIDE + 1]   ; AL = live neighbours
        mov ah, 0
        cmp al, 3
        je .alive                   ; 3: alive, whatever it was
        cmp al, 2
        jne .store                  ; not 2 (nor 3): dead
        mov ah, [si]                ; 2: stays as it is
        jmp .store
.alive: mov ah, 1
.store: mov [di], ah
        movzx eax, ah
        add ebp, eax
        inc si
        inc di
        loop .cell
        add si, 2                   ; over the right and left border cells
        add di, 2
        dec dx
        jnz .row
        mov si, next_grid
        mov di, grid
        mov cx, GRID_BYTES
        rep movsb
        mov [population], ebp
        inc dword [generation]
        ret

; wrap_edges: copy the opposite edges into the border.
wrap_edges:
        mov bx, grid + STRIDE       ; row 1
        mov cx, ROWS
.side:  mov al, [bx + COLS]         ; the last real cell ...
        mov [bx], al                ; ... goes left of the first
        mov al, [bx + 1]
        mov [bx + COLS + 1], al     ; and the first right of the last
        add bx, STRIDE
        loop .side
        mov si, grid + ROWS * STRIDE        ; the last real row ...
        mov di, grid                        ; ... above the first
        mov cx, STRIDE
        rep movsb
        mov si, grid + STRIDE               ; the first real row ...
        mov di, grid + (ROWS + 1) * STRIDE  ; ... below the last
        mov cx, STRIDE
        rep movsb
        ret

clear_grid:
        mov di, grid
        mov cx, GRID_BYTES
        xor al, al
        rep stosb
        mov dword [generation], 0
        ret

; random_soup: each cell alive with probability 1/4.
random_soup:
        call clear_grid
        mov di, grid + STRIDE + 1
        mov dx, ROWS
.row:   mov cx, COLS
.cell:  call random
        test al, 0x03               ; 1 in 4
        setz byte [di]
        inc di
        loop .cell
        add di, 2
        dec dx
        jnz .row
        ret

; random: EAX = the next xorshift32 number.
random:
        push edx
        mov eax, [rng_state]
        mov edx, eax
        shl edx, 13
        xor eax, edx
        mov edx, eax
        shr edx, 17
        xor eax, edx
        mov edx, eax
        shl edx, 5
        xor eax, edx
        mov [rng_state], eax
        pop edx
        ret

; glider_gun: Gosper's glider gun, the first pattern found that grows for
; ever.  The table holds (row, column) pairs, offset from the top left.
glider_gun:
        mov si, gun_cells
.cell:  lodsw                       ; AL = row, AH = column
        cmp al, 0xFF
        je .done
        movzx bx, al
        imul bx, bx, STRIDE
        movzx dx, ah
        add bx, dx
        mov byte [grid + (2 + 1) * STRIDE + (2 + 1) + bx], 1
        jmp .cell
.done:  ret

gun_cells:
        db 4,0, 4,1, 5,0, 5,1                               ; the left block
        db 4,10, 5,10, 6,10, 3,11, 7,11, 2,12, 8,12, 2,13, 8,13
        db 5,14, 3,15, 7,15, 4,16, 5,16, 6,16, 5,17
        db 2,20, 3,20, 4,20, 2,21, 3,21, 4,21, 1,22, 5,22
        db 0,24, 1,24, 5,24, 6,24
        db 2,34, 3,34, 2,35, 3,35                           ; the right block
        db 0xFF, 0xFF

; count_population: the live cells inside the border.
count_population:
        xor eax, eax
        xor edx, edx
        mov si, grid + STRIDE + 1
        mov bx, ROWS
.row:   mov cx, COLS
.cell:  mov al, [si]
        inc si
        add edx, eax
        loop .cell
        add si, 2
        dec bx
        jnz .row
        mov [population], edx
        ret

; ---- Drawing --------------------------------------------------------------------

; draw_grid: each cell becomes a character and colour byte in video memory.
draw_grid:
        push es
        mov ax, VGA_SEGMENT
        mov es, ax
        mov si, grid + STRIDE + 1
        mov di, 1 * 160             ; screen row 1
        mov dx, ROWS
.row:   mov cx, COLS
.cell:  mov ax, 0x0720              ; dead: a space, grey on black
        cmp byte [si], 0
        je .put
        mov ax, CELL_COLOUR << 8 | CELL_CHAR
.put:   stosw                       ; [ES:DI] = AX, DI += 2
        inc si
        loop .cell
        add si, 2
        dec dx
        jnz .row
        pop es
        ret

clear_screen:
        push es
        mov ax, VGA_SEGMENT
        mov es, ax
        xor di, di
        mov cx, 80 * 25
        mov ax, 0x0720
        rep stosw
        pop es
        ret

; draw_text: the zero-terminated string at SI at screen offset DI, colour AH.
draw_text:
        push es
        push ax
        mov ax, VGA_SEGMENT
        mov es, ax
        pop ax
.next:  lodsb
        test al, al
        jz .done
        stosw
        jmp .next
.done:  pop es
        ret

draw_title:
        mov si, title_text
        xor di, di
        mov ah, 0x1F                ; white on blue
        call draw_text
        ret

; draw_status: "Generation N  Population N  running" on the last row.
draw_status:
        mov di, status_text
        mov si, .gen
        call append
        mov eax, [generation]
        call append_dec
        mov si, .pop
        call append
        mov eax, [population]
        call append_dec
        mov si, .running
        cmp byte [running], 0
        jne .state
        mov si, .paused
.state: call append
        mov si, .keys
        call append
.pad:   cmp di, status_text + 80    ; fill the row with spaces
        jae .show
        mov byte [di], ' '
        inc di
        jmp .pad
.show:  mov byte [di], 0
        mov si, status_text
        mov di, 24 * 160
        mov ah, 0x70                ; black on grey
        jmp draw_text
.gen:     db ' Generation ', 0
.pop:     db '  Population ', 0
.running: db '  running', 0
.paused:  db '  paused ', 0
.keys:    db '   Space N R C G Q', 0

; append: copy the string at SI to DI (without its 0).
append:
        lodsb
        test al, al
        jz .done
        mov [di], al
        inc di
        jmp append
.done:  ret

; append_dec: EAX in decimal at DI.
append_dec:
        mov ecx, 10
        xor bx, bx                  ; digits on the stack
.div:   xor edx, edx
        div ecx
        push dx
        inc bx
        test eax, eax
        jnz .div
.out:   pop ax
        add al, '0'
        mov [di], al
        inc di
        dec bx
        jnz .out
        ret

title_text:
        db " Conway's Game of Life  -  visor86 guest library                                ", 0

rng_state:      dd 0
generation:     dd 0
population:     dd 0
ticks:          dw 0
last_step:      dw 0
running:        db 0
key_head:       db 0
key_tail:       db 0

        align 512, db 0
image_end:

        section .bss
        alignb 16
key_queue:      resb 16
grid:           resb GRID_BYTES
next_grid:      resb GRID_BYTES
status_text:    resb 96
