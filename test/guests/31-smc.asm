; 31 self-modifying code, written the way Intel guarantees for every model
; (SDM Vol. 3A 8.1.3: store the new code, then jump to it): patching the
; immediate of an instruction in a routine and calling it again; rewriting an
; opcode (ADD -> SUB); code copied into a data buffer and run there, then
; patched; a loop patching its own branch; and a patch written through a
; second linear address (a paging alias of the same frame), then executed at
; the original address.  Modifying an instruction already fetched (the very
; next one, without a jump) is model specific and not tested.
%define TEST_TITLE "31 self-modifying code"
%include "boot.inc"
%include "paging.inc"

ALIAS   equ 0x400000            ; second mapping of code_page

main:
        PRINTLN "-- same linear address"
        call patch_me
        SHOW32 "before=", eax
        mov dword [patch_me + 1], 0x600DF00D    ; the imm32 of "mov eax, imm32"
        jmp .j1
.j1:    call patch_me
        SHOW32 "after=", eax
        NL
        mov eax, 10
        call arith
        SHOW32 "add 3=", eax
        mov byte [arith], 0x2D          ; 05 id = add eax, id -> 2D id = sub eax, id
        mov eax, 10
        call arith
        SHOW32 "patched to sub 3=", eax
        NL

        PRINTLN "-- code copied into a buffer"
        mov esi, template
        mov edi, buffer
        mov ecx, template_end - template
        rep movsb
        call buffer
        SHOW32 "buffer()=", eax
        mov dword [buffer + 1], 0x0000CAFE
        call buffer
        SHOW32 "patched=", eax
        NL

        PRINTLN "-- a loop that rewrites its own branch"
        xor ecx, ecx
.loop:  inc ecx
        cmp ecx, 5
        jne .noswitch
        ; from now on the JMP below goes to .out: rewrite its rel8
        mov byte [.self_jmp + 1], .out - (.self_jmp + 2)
        jmp .self_jmp                   ; (a jump after the store, as required)
.noswitch:
.self_jmp:
        jmp short .loop
.out:   SHOW32 "iterations=", ecx
        NL

        PRINTLN "-- through a second linear address (paging alias)"
        call paging_init
        mov eax, ALIAS
        mov ebx, code_page + (PG_P | PG_RW)
        call map_page
        call paging_on
        call code_page
        SHOW32 "before=", eax
        mov dword [ALIAS + 1], 0x0A11A5ED
        jmp .j2
.j2:    call code_page
        SHOW32 "after write via alias=", eax
        mov byte [ALIAS + 5], 0x90      ; ret -> nop, then falls into the next
        mov byte [ALIAS + 6], 0x40      ; inc eax
        mov byte [ALIAS + 7], 0xC3      ; ret
        jmp .j3
.j3:    call code_page
        SHOW32 "ret replaced by inc eax=", eax
        NL
        call paging_off
        ret

patch_me:
        mov eax, 0x11111111
        ret

arith:  add eax, strict dword 3     ; 05 imm32 (not the short 83 form)
        ret

template:
        mov eax, 0x0000BEEF
        ret
template_end:

section .bss
alignb 16
buffer:         resb 64
section .text
align 4096
code_page:                      ; a page of its own, also mapped at ALIAS
        mov eax, 0x22222222
        ret
        times 16 db 0xCC
align 4096
