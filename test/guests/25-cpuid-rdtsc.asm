; 25 CPUID and the time-stamp counter.  CPUID results differ between CPU
; models by design (QEMU's "qemu32" and visor86 report different models and
; feature sets), so only what both promise is printed: EFLAGS.ID can be
; toggled (CPUID exists), the highest basic leaf is >= 1, the vendor string
; is 12 printable characters, the family is >= 6 (i686 class) and the
; feature bits FPU PSE TSC MSR CX8 SEP PGE CMOV are set.  CPUID works in
; ring 3.  The TSC's value is never printed, only that RDTSC increases and
; that CR4.TSD makes it #GP(0) in ring 3 (not in ring 0).
; QEMU quirk: in QEMU 7.2 (TCG) the TSC MSR (0x10) does not follow RDTSC:
; RDMSR 0x10 returns a fixed value and WRMSR 0x10 does not move RDTSC, so
; the MSR is not used here.
%define TEST_TITLE "25 CPUID and RDTSC"
%include "boot.inc"

%macro YESNO 1                  ; print "yes" if condition code %1 holds
        j%-1 %%no
        PRINT "yes"
        jmp %%done
%%no:   PRINT "no"
%%done:
%endmacro

main:
        PRINT "EFLAGS.ID toggles: "
        pushfd
        pop eax
        mov ebx, eax
        xor eax, 1 << 21
        push eax
        popfd
        pushfd
        pop eax
        push ebx
        popfd
        xor eax, ebx
        test eax, 1 << 21
        YESNO nz
        NL

        xor eax, eax
        cpuid
        mov [vendor], ebx
        mov [vendor + 4], edx
        mov [vendor + 8], ecx
        PRINT "max basic leaf >= 1: "
        cmp eax, 1
        YESNO ae
        PRINT ", vendor printable: "
        mov esi, vendor
        mov ecx, 12
.v:     cmp byte [esi], 0x20
        jb .bad
        cmp byte [esi], 0x7E
        ja .bad
        inc esi
        loop .v
.bad:   test ecx, ecx
        YESNO z
        NL

        mov eax, 1
        cpuid
        mov [sig], eax
        mov [features], edx
        PRINT "family >= 6: "
        mov eax, [sig]
        shr eax, 8
        and eax, 0xF
        cmp eax, 6
        YESNO ae
        NL
        %macro FEATURE 2
        PRINT %1
        test dword [features], 1 << %2
        YESNO nz
        %endmacro
        FEATURE "fpu:", 0
        FEATURE " pse:", 3
        FEATURE " tsc:", 4
        FEATURE " msr:", 5
        FEATURE " cx8:", 8
        FEATURE " sep:", 11
        FEATURE " pge:", 13
        FEATURE " cmov:", 15
        NL
        PRINT "cpuid in ring 3: "
        TRY .c3
        mov ebx, u_cpuid
        call user_call
        ENDTRY
.c3:
        PRINT "rdtsc increases: "
        rdtsc
        mov [t0], eax
        mov [t0 + 4], edx
        mov ecx, 1000
.spin:  loop .spin
        rdtsc
        sub eax, [t0]
        sbb edx, [t0 + 4]
        call positive
        NL
        PRINT "ring 3 rdtsc, TSD=0: "
        TRY .r1
        mov ebx, u_rdtsc
        call user_call
        ENDTRY
.r1:    mov eax, cr4
        or eax, CR4_TSD
        mov cr4, eax
        PRINT "ring 3 rdtsc, TSD=1: "
        TRY .r2
        mov ebx, u_rdtsc
        call user_call
        ENDTRY
.r2:    PRINT "ring 0 rdtsc, TSD=1: "
        TRY .r3
        rdtsc
        ENDTRY
.r3:    mov eax, cr4
        and eax, ~CR4_TSD
        mov cr4, eax
        ret

; positive: EDX:EAX > 0 (signed 64-bit) -> "yes"
positive:
        test edx, edx
        js .no
        jnz .yes
        test eax, eax
        jz .no
.yes:   PRINT "yes"
        ret
.no:    PRINT "no"
        ret

u_cpuid:
        xor eax, eax
        cpuid
        RET0
u_rdtsc:
        rdtsc
        RET0

section .data
align 4
vendor:         times 12 db 0
sig:            dd 0
features:       dd 0
t0:             dq 0
section .text
