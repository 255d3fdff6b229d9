; 10 segment register loads and limits: the checks made when a selector is
; loaded (index beyond the GDT limit, LDT selector without an LDT, system
; descriptor, execute-only code into DS, read-only data into SS, RPL/DPL
; rules, null selectors) with their #GP/#NP/#SS error codes; base
; arithmetic including 32-bit wrap-around; limits as reported by LSL
; (byte/page granularity, expand-down); and far transfers to an offset
; beyond CS's limit (#GP).
;
; QEMU quirk: QEMU (TCG) does not check segment limits on data and stack
; accesses, nor on near jumps, RETF or IRET, nor null-selector uses of
; DS/ES/FS/GS, so those cases are not run by default.  Assemble with -DLIMIT_CHECKS to add
; them (real CPUs: each gives #GP(0), or #SS(0) for SS); they are not part
; of the golden output.
%define TEST_TITLE "10 segment loads and limits"
%include "boot.inc"

D_SMALL  equ GDT_FREE + 0x00    ; data, base 0x200000, limit 0xFFF (byte)
D_PAGE   equ GDT_FREE + 0x08    ; data, limit 0 with G=1 (4 KiB)
D_DOWN   equ GDT_FREE + 0x10    ; expand-down data, limit 0xFFF, B=1
D_DOWN16 equ GDT_FREE + 0x18    ; expand-down data, limit 0xFFF, B=0
C_XONLY  equ GDT_FREE + 0x20    ; execute-only code
D_RO     equ GDT_FREE + 0x28    ; read-only data
D_NP     equ GDT_FREE + 0x30    ; not-present data
D_DPL3   equ GDT_FREE + 0x38    ; writable data, DPL 3 (= UDATA with RPL 0)
D_WRAP   equ GDT_FREE + 0x40    ; data, base 0xFFF00000, limit 4 GiB
C_SHORT  equ GDT_FREE + 0x48    ; code, base 0x100000, limit ends inside this program
D_DPL1   equ GDT_FREE + 0x50    ; writable data, DPL 1

; LOADDS "text", selector — load DS with selector and report
%macro LOADDS 2
        PRINT %1
        TRY %%r
        mov ax, %2
        mov ds, ax
        mov ax, KDATA
        mov ds, ax
        ENDTRY
%%r:
%endmacro

%macro LOADSS 2
        PRINT %1
        mov ebp, esp
        TRY %%r
        mov ax, %2
        mov ss, ax
        mov ax, KDATA
        mov ss, ax
        mov esp, ebp
        ENDTRY
%%r:
%endmacro

%macro SHOWLSL 2
        mov eax, %2
        lsl eax, eax
        SHOW32 %1, eax
%endmacro

main:
        GDT_DESC D_SMALL, 0x200000, 0xFFF, ACC_DATA, DF_D
        GDT_DESC D_PAGE, 0x200000, 0, ACC_DATA, DF_G | DF_D
        GDT_DESC D_DOWN, 0x200000, 0xFFF, ACC_DATA | 4, DF_D
        GDT_DESC D_DOWN16, 0x200000, 0xFFF, ACC_DATA | 4, 0
        GDT_DESC C_XONLY, 0, 0xFFFFF, 0x98, DF_G | DF_D
        GDT_DESC D_RO, 0, 0xFFFFF, 0x90, DF_G | DF_D
        GDT_DESC D_NP, 0, 0xFFFFF, 0x12, DF_G | DF_D
        GDT_DESC D_DPL3, 0, 0xFFFFF, ACC_DATA | ACC_DPL3, DF_G | DF_D
        GDT_DESC D_WRAP, 0xFFF00000, 0xFFFFF, ACC_DATA, DF_G | DF_D
        GDT_DESC C_SHORT, 0x100000, short_limit - 0x100000, ACC_CODE, DF_D
        GDT_DESC D_DPL1, 0, 0xFFFFF, ACC_DATA | 0x20, DF_G | DF_D

        PRINTLN "-- limits (LSL)"
        SHOWLSL "byte=", D_SMALL
        SHOWLSL "page=", D_PAGE
        SHOWLSL "flat=", KDATA
        SHOWLSL "expand-down=", D_DOWN
        NL

        PRINTLN "-- bases"
        mov dword [0x200010], 0x0BA5E010
        mov ax, D_SMALL
        mov es, ax
        SHOW32 "es:10 (base 0x200000)=", [es:0x10]
        mov dword [es:0x20], 0x0BA5E020
        SHOW32 "flat 0x200020=", [0x200020]
        mov ax, D_WRAP
        mov es, ax
        mov dword [0x1234], 0x00C0FFEE
        SHOW32 "es:0x101234 (base 0xfff00000, wraps)=", [es:0x101234]
        mov ax, KDATA
        mov es, ax
        NL

        PRINTLN "-- loading DS"
        LOADDS "null selector: ", 0
        LOADDS "index beyond GDT limit: ", 0x1F8 + 8
        LOADDS "LDT selector, no LDT: ", 0x0C
        LOADDS "TSS descriptor: ", TSS_SEL
        LOADDS "execute-only code: ", C_XONLY
        LOADDS "readable code: ", KCODE
        LOADDS "not present: ", D_NP
        LOADDS "DPL 3 data, RPL 0: ", D_DPL3
        LOADDS "DPL 1 data, RPL 2 (at CPL 0): ", D_DPL1 | 2
        LOADDS "DPL 0 data, RPL 3 (at CPL 0): ", KDATA | 3
        PRINTLN "-- loading SS"
        LOADSS "null selector: ", 0
        LOADSS "read-only data: ", D_RO
        LOADSS "code: ", KCODE
        LOADSS "DPL 3 data at CPL 0: ", D_DPL3
        LOADSS "RPL 3 (DPL 0): ", KDATA | 3
        LOADSS "not present: ", D_NP
        PRINT "ring 3 mov ds, DPL 0 data: "
        TRY .r1
        mov ebx, u_load_kdata
        call user_call
        ENDTRY
.r1:    PRINT "mov cs, ax: "
        TRY .r2
        mov ax, KCODE
        db 0x8E, 0xC8           ; mov cs, ax: invalid
        ENDTRY
.r2:    PRINT "lss with a null selector: "
        mov dword [farptr], 0
        mov word [farptr + 4], 0
        TRY .r3
        lss esp, [farptr]
        ENDTRY
.r3:    PRINT "lds, then lfs with a not-present selector: "
        mov dword [farptr], 0x11223344
        mov word [farptr + 4], D_SMALL
        TRY .r4
        lds eax, [farptr]
        mov bx, ds
        mov cx, KDATA
        mov ds, cx
        mov word [farptr + 4], D_NP
        lfs ecx, [farptr]
        ENDTRY
.r4:    SHOW32 "  eax=", eax
        SHOW16 "ds was=", bx
        NL

        PRINTLN "-- far transfers beyond the CS limit"
        PRINT "jmp far: "
        TRY .j1
        jmp C_SHORT:beyond - 0x100000
        ENDTRY
.j1:    ; QEMU pushes the selector as error code here (real CPUs: 0): only
        ; the vector is printed.
        PRINT "call far: "
        mov dword [exc_quiet], 1
        TRY .j2
        call C_SHORT:beyond - 0x100000
        ENDTRY
.j2:    mov dword [exc_quiet], 0
        SHOW8 "vector=", [exc_vector]
        NL
        PRINT "jmp far to the last byte inside: "
        TRY .j5
        jmp C_SHORT:inside - 0x100000
        ENDTRY
.j5:
%ifdef LIMIT_CHECKS
        PRINTLN "-- data/stack limit checks (real CPUs; not QEMU)"
        mov ax, D_SMALL
        mov es, ax
        PRINT "read es:0xffd, crosses the limit (#GP(0)): "
        TRY .l1
        mov eax, [es:0xFFD]
        ENDTRY
.l1:    mov ax, D_DOWN
        mov es, ax
        PRINT "expand-down, read es:0x800 (#GP(0)): "
        TRY .l2
        mov eax, [es:0x800]
        ENDTRY
.l2:    PRINT "expand-down, read es:0x1000 (allowed): "
        TRY .l3
        mov eax, [es:0x1000]
        ENDTRY
.l3:    mov ax, D_DOWN16
        mov es, ax
        PRINT "expand-down B=0, read es:0x10000 (#GP(0)): "
        TRY .l4
        mov al, [es:0x10000]
        ENDTRY
.l4:    xor eax, eax
        mov es, ax
        PRINT "read through null es (#GP(0)): "
        TRY .l5
        mov eax, [es:0]
        ENDTRY
.l5:    mov ax, KDATA
        mov es, ax
        PRINT "push below an expand-down SS (#SS(0)): "
        mov ebp, esp
        TRY .l6
        mov ax, D_DOWN
        mov ss, ax
        mov esp, 0x1002
        push eax
        mov ax, KDATA
        mov ss, ax
        mov esp, ebp
        ENDTRY
.l6:    mov ax, KDATA
        mov ss, ax
        mov esp, ebp
        PRINT "retf beyond the CS limit (#GP(0)): "
        TRY .l7
        push dword C_SHORT
        push dword beyond - 0x100000
        retf
        ENDTRY
.l7:    PRINT "iret beyond the CS limit (#GP(0)): "
        TRY .l8
        pushfd
        push dword C_SHORT
        push dword beyond - 0x100000
        iretd
        ENDTRY
.l8:
%endif
        ret

; The C_SHORT segment's limit is the last byte of `inside`, so a far JMP to
; `inside` is allowed and `beyond` is past the limit.
inside: jmp KCODE:.back         ; (7 bytes)
.back:  PRINTLN "ok"
        mov dword [exc_recover_eip], 0
        mov esp, [exc_recover_esp]
        jmp main.j5
short_limit equ inside + 6
beyond: jmp KCODE:.landed      ; only reached if a limit check is missing
.landed:
        PRINTLN "no exception (landed beyond the limit)"
        mov eax, [exc_recover_eip]
        mov dword [exc_recover_eip], 0
        mov esp, [exc_recover_esp]
        jmp eax

u_load_kdata:
        mov ax, KDATA
        mov ds, ax
        RET0

section .data
farptr: dd 0
        dw 0
section .text
