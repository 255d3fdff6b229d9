; 35 stack instructions with 32- and 16-bit operand sizes: PUSHAD/POPAD and
; PUSHA/POPA (the pushed ESP/SP is the value before the instruction; POPA
; skips it), PUSH ESP (old value), POP ESP, POP into memory addressed through
; ESP (address computed after the increment), PUSH [ESP], PUSH imm8 (sign
; extended), PUSH/POP with an o16 prefix (2 bytes), PUSH of a segment register
; (only the low 16 bits are printed: a 32-bit push may write only 2 bytes),
; ENTER with nesting levels 0-3 and LEAVE, 32- and 16-bit.  Each case runs
; on a scratch stack filled with a pattern; the words around ESP are printed.
%define TEST_TITLE "35 PUSHA POPA ENTER LEAVE PUSH POP"
%include "boot.inc"

STK     equ scratch + 256       ; initial ESP of each case

; BEGIN — switch to the scratch stack (pattern-filled); END — back, recording
; the final ESP, EBP in r_esp, r_ebp
%macro BEGIN 0
        call fill
        mov [saved_esp], esp
        mov esp, STK
%endmacro
%macro END 0
        mov [r_esp], esp
        mov [r_ebp], ebp
        mov esp, [saved_esp]
%endmacro

; DUMPSTK n — print ESP relative to STK and the n dwords below STK
; (lowest address first)
%macro DUMPSTK 1
        SHOWREL "esp=", [r_esp], STK
  %if %1 > 0
        push ecx
        push esi
        mov esi, STK - 4 * (%1)
        mov ecx, %1
%%d:    SHOW32 "", [esi]
        add esi, 4
        loop %%d
        pop esi
        pop ecx
  %endif
        NL
%endmacro

main:
        PRINTLN "-- pushad / popad"
        BEGIN
        mov eax, 0xA0
        mov ecx, 0xC1
        mov edx, 0xD2
        mov ebx, 0xB3
        mov ebp, 0xBB
        mov esi, 0x51
        mov edi, 0xD1
        pushad
        END
        PRINT "pushad:"
        DUMPSTK 8
        BEGIN
        sub esp, 32
        mov dword [esp + 12], 0x12345678   ; the ESP slot: ignored by popad
        mov dword [esp + 28], 0xAAAA0000   ; EAX slot
        popad
        mov [r_eax], eax
        END
        PRINT "popad:"
        SHOW32 "eax=", [r_eax]
        DUMPSTK 0
        BEGIN
        mov ax, 0x1A
        mov cx, 0x1C
        mov bp, 0x1B
        pushaw
        END
        PRINT "pushaw:"
        DUMPSTK 4

        PRINTLN "-- push/pop esp and friends"
        BEGIN
        push esp
        END
        PRINT "push esp:"
        DUMPSTK 1
        BEGIN
        push dword 0x00000111
        pop esp
        END
        PRINT "pop esp (loads the popped value):"
        SHOW32 "", [r_esp]
        NL
        BEGIN
        push dword 0xCAFE
        pop dword [esp]                 ; writes at the incremented ESP
        END
        PRINT "pop [esp]:"
        DUMPSTK 2
        BEGIN
        push dword 0x0BADF00D
        push dword [esp]
        END
        PRINT "push [esp]:"
        DUMPSTK 2
        BEGIN
        push byte -2
        push word 0x1234
        o16 push ax
        END
        PRINT "push imm8 -2, push word, o16 push:"
        DUMPSTK 2
        BEGIN
        push dword 0x33333333
        o16 pop ax
        mov [r_eax], eax
        END
        PRINT "o16 pop:"
        SHOW16 "ax=", [r_eax]
        DUMPSTK 1
        BEGIN
        push ds
        END
        PRINT "push ds (low 16 bits):"
        SHOWREL "esp=", [r_esp], STK
        SHOW16 "", [STK - 4]
        NL

        PRINTLN "-- enter / leave (32-bit)"
        %macro ENTER32 3
        BEGIN
        mov ebp, STK - 0x40             ; an outer frame chain: ebp -> ... 
        mov dword [STK - 0x40], STK - 0x50
        mov dword [STK - 0x44], 0xF1F1F1F1      ; frame pointers of outer levels
        mov dword [STK - 0x48], 0xF2F2F2F2
        enter %1, %2
        END
        PRINT %3
        SHOWREL "ebp=", [r_ebp], STK
        DUMPSTK 6
        %endmacro
        ENTER32 8, 0, "enter 8,0:"
        ENTER32 8, 1, "enter 8,1:"
        ENTER32 0, 2, "enter 0,2:"
        ENTER32 4, 3, "enter 4,3:"
        BEGIN
        mov ebp, STK - 0x40
        enter 12, 1
        mov dword [esp], 0x99
        leave
        END
        PRINT "enter 12,1 then leave:"
        SHOWREL "ebp=", [r_ebp], STK
        DUMPSTK 0

        PRINTLN "-- enter / leave (16-bit operand size)"
        BEGIN
        mov ebp, STK - 0x40             ; (a 32-bit stack: ENTER walks EBP)
        mov word [STK - 0x42], 0x6666   ; the outer frame pointer it copies
        o16 enter 6, 2                  ; pushes BP, [EBP-2], the new BP
        END
        PRINT "o16 enter 6,2:"
        SHOWREL "ebp=", [r_ebp], STK
        DUMPSTK 3
        ret

; fill: scratch stack = 0xEEEEEEEE
fill:
        pushad
        mov edi, scratch
        mov ecx, 256 / 4 + 16
        mov eax, 0xEEEEEEEE
        rep stosd
        popad
        ret

section .data
align 4
saved_esp:      dd 0
r_esp:          dd 0
r_ebp:          dd 0
r_eax:          dd 0
section .bss
alignb 16
scratch:        resb 256 + 64
section .text
