; 34 system registers: SGDT/SIDT return what LGDT/LIDT loaded; switching to
; a copy of the GDT at another address; LGDT/LIDT with a 16-bit operand size
; load only 24 bits of base; LLDT/SLDT with segment loads through the LDT
; (TI=1) and a null LDTR; STR; SMSW to a register (low 16 bits: the upper
; half is undefined) and to memory; LMSW setting MP/EM/TS but never clearing
; PE; CLTS; CR2 is writable.
; QEMU quirks avoided: QEMU 7.2 accepts invalid CR0 values (PG without PE,
; NW without CD) instead of raising #GP(0), and a write of a reserved CR4 bit
; makes it stop making progress (no #GP), so none of these are tested.
%define TEST_TITLE "34 LGDT SGDT LIDT SIDT LLDT STR SMSW LMSW"
%include "boot.inc"

LDT_SEL equ GDT_FREE + 0x00

main:
        PRINTLN "-- sgdt / sidt"
        sgdt [buf]
        SHOW16 "gdt limit=", [buf]
        SHOWREL "base=", [buf + 2], gdt
        sidt [buf]
        SHOW16 "idt limit=", [buf]
        SHOWREL "base=", [buf + 2], idt
        NL

        PRINTLN "-- a copy of the GDT elsewhere"
        mov esi, gdt
        mov edi, gdt_copy
        mov ecx, GDT_ENTRIES * 8
        rep movsb
        ; make the copy's KDATA different: base 0x1000 (visible through DS)
        mov word [gdt_copy + KDATA + 2], 0x1000
        mov dword [0x1000 + 0x20], 0x0C0FFEE0
        mov word [gdtr_copy], GDT_ENTRIES * 8 - 1
        mov dword [gdtr_copy + 2], gdt_copy
        lgdt [gdtr_copy]
        sgdt [buf]
        SHOWREL "sgdt base=", [buf + 2], gdt_copy
        mov ax, KDATA                   ; reload DS: now from the copy
        mov ds, ax
        mov eax, [0x20]                 ; linear 0x1020
        mov cx, UDATA & ~3              ; flat in the copy too (DPL 3 data may
        mov ds, cx                      ; be loaded at CPL 0)
        lgdt [gdt_desc]                 ; back to the original
        mov cx, KDATA
        mov ds, cx
        SHOW32 "ds:20 with the copy's KDATA=", eax
        NL

        PRINTLN "-- 16-bit operand size: 24-bit base"
        mov word [buf], GDT_ENTRIES * 8 - 1
        mov eax, gdt
        or eax, 0xAB000000              ; high byte must be ignored
        mov [buf + 2], eax
        o16 lgdt [buf]
        sgdt [buf + 8]
        SHOWREL "o16 lgdt: sgdt base=", [buf + 10], gdt
        mov ax, KDATA
        mov ds, ax                      ; still works
        lgdt [gdt_desc]
        mov word [buf], 256 * 8 - 1
        mov eax, idt
        or eax, 0xCD000000
        mov [buf + 2], eax
        o16 lidt [buf]
        sidt [buf + 8]
        SHOWREL "o16 lidt: sidt base=", [buf + 10], idt
        lidt [idt_desc]
        NL

        PRINTLN "-- LDT"
        ; LDT with one data segment: base 0x2000
        mov edi, ldt
        mov ebx, 0x2000
        mov ecx, 0xFFF
        mov dl, ACC_DATA
        mov dh, DF_D
        call make_desc
        GDT_DESC LDT_SEL, ldt, 8 - 1, ACC_LDT, 0
        mov dword [0x2000 + 0x44], 0x1D71D7
        mov ax, LDT_SEL
        lldt ax
        sldt bx
        SHOW16 "sldt=", bx
        mov ax, 0x04                    ; LDT index 0, TI=1, RPL 0
        mov es, ax
        SHOW32 "es:44 via the LDT=", [es:0x44]
        mov ax, KDATA
        mov es, ax
        xor ax, ax
        lldt ax                         ; null LDTR
        sldt bx
        SHOW16 "after lldt 0: sldt=", bx
        NL
        PRINT "LDT selector with a null LDTR: "
        TRY .l1
        mov ax, 0x04
        mov es, ax
        ENDTRY
.l1:    PRINT "lldt with a data segment selector: "
        TRY .l2
        mov ax, KDATA
        lldt ax
        ENDTRY
.l2:
        PRINTLN "-- str, smsw, lmsw, clts"
        str ax
        SHOW16 "str=", ax
        mov word [buf], 0xFFFF
        str [buf]
        SHOW16 "str mem=", [buf]
        smsw ax
        SHOW16 "smsw=", ax
        smsw eax
        SHOW16 "smsw eax (low)=", ax
        mov word [buf], 0
        smsw [buf]
        SHOW16 "smsw mem=", [buf]
        NL
        mov ax, 0x000E                  ; PE=0 MP=1 EM=1 TS=1
        lmsw ax
        mov eax, cr0
        and eax, 0xF
        SHOW32 "lmsw 000e: cr0&f=", eax
        clts
        mov eax, cr0
        and eax, 0xF
        SHOW32 "clts: cr0&f=", eax
        mov ax, 0x0003
        lmsw ax                         ; EM cleared, MP kept
        mov eax, cr0
        and eax, 0xF
        SHOW32 "lmsw 0003: cr0&f=", eax
        NL
        mov eax, 0xDEADBEEF
        mov cr2, eax
        mov ebx, cr2
        SHOW32 "cr2 written/read=", ebx
        NL
        ret

section .data
align 4
buf:            times 16 db 0
gdtr_copy:      dw 0
                dd 0
section .bss
alignb 16
gdt_copy:       resb GDT_ENTRIES * 8
ldt:            resb 8
section .text
