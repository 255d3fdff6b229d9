; 20 x87 data formats: the constants (FLDPI, FLDL2E, FLDL2T, FLDLG2, FLDLN2,
; FLD1, FLDZ) as 80-bit values, rounded in each RC mode; pi, -e, 1/3 and a
; few special values stored as float32, float64 and 80-bit in each rounding
; mode; FIST/FISTP to 16/32/64-bit integers with round-half-even and the
; "integer indefinite" for out-of-range values; FBSTP/FBLD packed BCD
; including the BCD indefinite; FILD of each size; FLD of a float32
; denormal, infinity and NaNs.  Exception flags are printed where the result
; sets them; C1 (which real CPUs set when a result was rounded up) is masked
; out because QEMU 7.2 never sets it, and so is DE: loading a float32/64
; denormal sets it on real CPUs, QEMU 7.2 does not.
%define TEST_TITLE "20 x87 formats"
%include "boot.inc"
%include "x87.inc"

; ST80 "name=" — FSTP the top of stack as 80-bit and print it
%macro ST80 1
        fstp tword [buf]
        SHOW80 %1, buf
%endmacro

; Print the exception flags (except DE, see above), then clear them
%macro EXC 0
        SHOWSW "exc=", SW_EXC & ~SW_DE
        fnclex
%endmacro

main:
        fninit
        PRINTLN "-- constants, RC nearest / down / up / zero"
        %macro CONST 2
        PRINT %1
        SETRC RC_NEAR
        %2
        ST80 ""
        SETRC RC_DOWN
        %2
        ST80 ""
        SETRC RC_UP
        %2
        ST80 ""
        SETRC RC_ZERO
        %2
        ST80 ""
        NL
        %endmacro
        CONST "fldpi ", fldpi
        CONST "fldl2e", fldl2e
        CONST "fldl2t", fldl2t
        CONST "fldlg2", fldlg2
        CONST "fldln2", fldln2
        CONST "fld1  ", fld1
        CONST "fldz  ", fldz
        SETRC RC_NEAR
        fnclex

        PRINTLN "-- stores: float32 float64 (RC nearest, down, up, zero)"
        %macro STORES 2
        PRINTLN %1
        mov esi, RC_NEAR
%%rc:   mov [x87_cw], si
        or word [x87_cw], CW_DEFAULT
        fldcw [x87_cw]
        PRINT "  "
        fld tword [%2]
        fst dword [buf]
        SHOW32 "f32=", [buf]
        fstp qword [buf]
        SHOW64 "f64=", buf
        EXC
        NL
        add esi, 0x400
        cmp esi, 0x1000
        jb %%rc
        SETRC RC_NEAR
        %endmacro
        STORES "pi", v_pi
        STORES "-e", v_mine
        STORES "1/3", v_third
        STORES "1e-40 (float32 denormal)", v_tiny
        STORES "1e-50 (float32 underflow to 0 or min denormal)", v_tinier
        STORES "1e39 (float32 overflow)", v_huge
        STORES "1.0000000000000002 (exact in float64)", v_exact64

        PRINTLN "-- 80-bit round trip and specials"
        fld tword [v_mine]
        ST80 "-e="
        fldz
        fchs
        ST80 "-0="
        fld dword [f_inf]
        ST80 "f32 +inf="
        fld dword [f_qnan]
        ST80 "f32 qnan="
        EXC
        NL
        fld dword [f_snan]
        ST80 "f32 snan="
        EXC
        fld dword [f_denorm]
        ST80 "f32 denormal="
        EXC
        NL

        PRINTLN "-- integer stores (RC nearest): m16 m32 m64"
        %macro ISTORE 2
        PRINT %1
        fld qword [%2]
        fist word [buf]
        SHOW16 "", [buf]
        fist dword [buf]
        SHOW32 "", [buf]
        fistp qword [buf]
        SHOW64 "", buf
        EXC
        NL
        %endmacro
        ISTORE "2.5:", d_2p5
        ISTORE "-2.5:", d_m2p5
        ISTORE "3.5:", d_3p5
        ISTORE "-0.4:", d_m0p4
        ISTORE "40000.0:", d_40000
        ISTORE "-32768.0:", d_m32768
        ISTORE "3e9:", d_3e9
        ISTORE "1e19:", d_1e19
        PRINT "2.5 with RC down/up/zero (m32):"
        SETRC RC_DOWN
        fld qword [d_2p5]
        fistp dword [buf]
        SHOW32 "", [buf]
        SETRC RC_UP
        fld qword [d_m2p5]
        fistp dword [buf]
        SHOW32 "-2.5 up:", [buf]
        SETRC RC_ZERO
        fld qword [d_m2p5]
        fistp dword [buf]
        SHOW32 "-2.5 zero:", [buf]
        SETRC RC_NEAR
        EXC
        NL

        PRINTLN "-- integer loads"
        fild word [i16]
        ST80 "m16 -12345="
        fild dword [i32]
        ST80 "m32 0x7fffffff="
        fild qword [i64]
        ST80 "m64 -2^63="
        NL

        PRINTLN "-- packed BCD"
        %macro BCD 2
        PRINT %1
        fld qword [%2]
        fbstp [buf]
        SHOWBCD "", buf
        EXC
        NL
        %endmacro
        BCD "123456789012345678:", d_bcd_big
        BCD "-98765:", d_bcd_neg
        BCD "0.5 (half-even -> 0):", d_half
        BCD "1.5:", d_1p5
        BCD "1e18 (out of range):", d_1e18
        fbld [bcd_in]
        ST80 "fbld -9876543210="
        fbld [bcd_in]
        fbstp [buf]
        SHOWBCD "round trip=", buf
        NL
        ret

section .data
align 16
buf:            times 16 db 0
v_pi:           dt 3.14159265358979323846264338327950288
v_mine:         dt -2.71828182845904523536028747135266250
v_third:        dt 0.333333333333333333333333333333333333
v_tiny:         dt 1.0e-40
v_tinier:       dt 1.0e-50
v_huge:         dt 1.0e39
v_exact64:      dt 1.0000000000000002220446049250313080847
f_inf:          dd 0x7F800000
f_qnan:         dd 0x7FC12345
f_snan:         dd 0x7F812345
f_denorm:       dd 0x00000001
d_2p5:          dq 2.5
d_m2p5:         dq -2.5
d_3p5:          dq 3.5
d_m0p4:         dq -0.4
d_40000:        dq 40000.0
d_m32768:       dq -32768.0
d_3e9:          dq 3.0e9
d_1e19:         dq 1.0e19
i16:            dw -12345
i32:            dd 0x7FFFFFFF
i64:            dq 0x8000000000000000
d_bcd_big:      dq 123456789012345678.0
d_bcd_neg:      dq -98765.0
d_half:         dq 0.5
d_1p5:          dq 1.5
d_1e18:         dq 1.0e18
bcd_in:         db 0x10, 0x32, 0x54, 0x76, 0x98, 0, 0, 0, 0, 0x80
section .text
