; 33 SYSENTER/SYSEXIT and the SYSENTER MSRs: WRMSR/RDMSR of SYSENTER_CS
; (0x174), _ESP (0x175), _EIP (0x176); a ring 3 -> ring 0 -> ring 3 round
; trip (CS = MSR, SS = MSR+8, then CS = MSR+16|3, SS = MSR+24|3, EIP = EDX,
; ESP = ECX; SYSENTER clears IF); the flat segments are loaded without
; reading the GDT (shown with SYSENTER_CS pointing at empty GDT slots); #GP(0)
; for SYSENTER with SYSENTER_CS = 0, SYSEXIT from ring 3 or with CS = 0, and
; RDMSR/WRMSR in ring 3.
; QEMU quirk: QEMU 7.2 (TCG) returns 0 for RDMSR of an unknown MSR and
; ignores WRMSR to one instead of raising #GP(0), so unknown MSRs are not
; tested.
%define TEST_TITLE "33 SYSENTER SYSEXIT and MSRs"
%include "boot.inc"

MSR_CS  equ 0x174
MSR_ESP equ 0x175
MSR_EIP equ 0x176

%macro WRMSR32 2
        mov ecx, %1
        mov eax, %2
        xor edx, edx
        wrmsr
%endmacro

main:
        WRMSR32 MSR_CS, KCODE
        WRMSR32 MSR_ESP, sys_stack_top
        WRMSR32 MSR_EIP, sys_entry
        PRINT "rdmsr:"
        mov ecx, MSR_CS
        rdmsr
        SHOW32 "cs=", edx
        SHOW32 "", eax
        mov ecx, MSR_ESP
        rdmsr
        SHOWREL "esp=", eax, sys_stack_top
        SHOW32 "edx=", edx
        mov ecx, MSR_EIP
        rdmsr
        SHOWREL "eip=", eax, sys_entry
        NL

        PRINTLN "-- round trip from ring 3 (IF=1 in ring 3)"
        mov dword [user_eflags], 0x2 | FL_IF
        mov ebx, u_sysenter
        call user_call
        mov dword [user_eflags], 0x2
        call report

        PRINTLN "-- SYSENTER_CS = 0x40 (empty GDT slots 0x40-0x58)"
        WRMSR32 MSR_CS, 0x40
        mov ebx, u_sysenter
        call user_call
        call report
        WRMSR32 MSR_CS, KCODE

        PRINTLN "-- faults"
        PRINT "sysenter with SYSENTER_CS=0: "
        WRMSR32 MSR_CS, 0
        TRY .f1
        mov ebx, u_sysenter
        call user_call
        ENDTRY
.f1:    PRINT "sysexit with SYSENTER_CS=0: "
        TRY .f2
        sysexit
        ENDTRY
.f2:    WRMSR32 MSR_CS, KCODE
        PRINT "sysexit in ring 3: "
        TRY .f3
        mov ebx, u_sysexit
        call user_call
        ENDTRY
.f3:    PRINT "rdmsr in ring 3: "
        TRY .f4
        mov ebx, u_rdmsr
        call user_call
        ENDTRY
.f4:    PRINT "wrmsr in ring 3: "
        TRY .f5
        mov ebx, u_wrmsr
        call user_call
        ENDTRY
.f5:    ret

report:
        PRINT "ring 0:"
        SHOW16 "cs=", [k_cs]
        SHOW16 "ss=", [k_ss]
        SHOWREL "esp=", [k_esp], sys_stack_top
        mov eax, [k_flags]
        and eax, FL_IF | FL_VM
        SHOW32 "if|vm=", eax
        NL
        PRINT "back in ring 3:"
        SHOW16 "cs=", [u_cs]
        SHOW16 "ss=", [u_ss]
        SHOWREL "esp=", [u_esp], user_stack_top
        SHOWREL "eip=", [u_eip], u_after
        NL
        ret

; SYSENTER lands here in ring 0.  EDX/ECX still hold what ring 3 put there.
sys_entry:
        mov [ss:k_cs], cs
        mov [ss:k_ss], ss
        mov [ss:k_esp], esp
        pushfd
        pop dword [ss:k_flags]
        sysexit                         ; to EDX with ESP = ECX, CPL 3

; ---- ring 3 ----
u_sysenter:
        mov ecx, esp
        sub ecx, 16                     ; ESP to use after SYSEXIT
        mov edx, u_after                ; EIP to use after SYSEXIT
        sysenter
u_after:
        call here
here:   pop eax                         ; EIP of "here" (then ESP is back)
        sub eax, here - u_after
        mov [u_eip], eax
        mov [u_cs], cs
        mov [u_ss], ss
        mov [u_esp], esp
        RET0
u_sysexit:
        sysexit
        RET0
u_rdmsr:
        mov ecx, MSR_CS
        rdmsr
        RET0
u_wrmsr:
        mov ecx, MSR_CS
        wrmsr
        RET0

section .data
align 4
k_cs:   dd 0
k_ss:   dd 0
k_esp:  dd 0
k_flags: dd 0
u_cs:   dd 0
u_ss:   dd 0
u_esp:  dd 0
u_eip:  dd 0
section .bss
alignb 16
                resb 4096
sys_stack_top:
section .text
