; =============================================================================
; bench — an integer CPU benchmark: six small kernels that do what ordinary
; programs do, run a fixed number of times, with a checksum of all results.
;
;   sieve   the sieve of Eratosthenes: byte stores, nested loops
;   crc32   table-driven CRC-32 of 16 KiB: loads, shifts, xor
;   sort    quicksort of 2048 numbers, insertion sort of 128: compares, swaps
;   string  REP MOVSD / STOSD / CMPSD, REPNE SCASB, a byte-by-byte copy
;   muldiv  MUL / DIV / IMUL / IDIV: gcd, modular powers, signed averages
;   branch  a tokenizer state machine: unpredictable branches, a jump table
;
; The input data come from a xorshift pseudo-random generator with a fixed
; seed, so every run on every x86 computes the same checksums.  The number of
; iterations is the dword after the marker "BENCH-ITERATIONS" near the start
; of this file: tools may patch it (the test suite runs 2 iterations).
;
; It boots by Multiboot (the loader puts us at 1 MiB in 32-bit protected mode,
; paging and interrupts off), prints on COM1, and when done writes 0 to port
; 0xF4 (isa-debug-exit: QEMU and visor86 stop there with status 1; status 3,
; from writing 1, means a kernel checked its own result and found it wrong).
;
; Build: nasm -f bin -I ../lib/ -o bench.bin bench.asm
; =============================================================================

        org 0x100000
        bits 32

MB_MAGIC        equ 0x1BADB002
MB_AOUT_KLUDGE  equ 1 << 16         ; the load addresses are in this header

; ---- The Multiboot header: must be in the first 8 KiB, 4-byte aligned. -----
multiboot_header:
        dd MB_MAGIC
        dd MB_AOUT_KLUDGE
        dd -(MB_MAGIC + MB_AOUT_KLUDGE) ; checksum: the three dwords sum to 0
        dd multiboot_header         ; header_addr: where this header is loaded
        dd multiboot_header         ; load_addr: where the file's first byte goes
        dd load_end                 ; load_end_addr: end of the file's bytes
        dd bss_end                  ; bss_end_addr: zeroed up to here
        dd start                    ; entry_addr

        db 'BENCH-ITERATIONS'       ; marker for tools that change the count
iterations:
        dd 100

%include "serial32.inc"

SIEVE_MAX       equ 32768           ; sieve limit, plus 0-4095 per iteration
CRC_BYTES       equ 16384
SORT_COUNT      equ 2048
ISORT_COUNT     equ 128
STRING_DWORDS   equ 4096
MULDIV_ROUNDS   equ 1500
TEXT_BYTES      equ 8192

start:
        mov esp, stack_top
        call com1_init
        PRINT 'bench: visor86 integer benchmark (sieve, crc32, sort, string, muldiv, branch)', 10
        PRINT 'bench: running '
        mov eax, [iterations]
        call print_dec
        PRINT ' iterations', 10

        call crc32_make_table

        xor ebp, ebp                ; EBP = iteration number
.iteration:
        cmp ebp, [iterations]
        jae .finished
        ; A different seed each iteration, so no kernel repeats its input.
        mov eax, ebp
        imul eax, eax, 0x9E3779B9
        xor eax, 0x2545F491
        jnz .seed_ok
        inc eax                     ; xorshift must never have state 0
.seed_ok:
        mov [rng_state], eax

        call sieve
        mov ebx, sum_sieve
        call accumulate
        call crc32_kernel
        mov ebx, sum_crc32
        call accumulate
        call sort_kernel
        mov ebx, sum_sort
        call accumulate
        call string_kernel
        mov ebx, sum_string
        call accumulate
        call muldiv_kernel
        mov ebx, sum_muldiv
        call accumulate
        call branch_kernel
        mov ebx, sum_branch
        call accumulate
        inc ebp
        jmp .iteration

.finished:
        mov esi, kernel_names
        mov ebx, sum_sieve
        xor edi, edi                ; the overall checksum
        mov ecx, 6
.report:
        PRINT 'bench: '
        call puts
        PRINT ' checksum='
        mov eax, [ebx]
        call print_hex32
        PRINT 10
        rol edi, 5
        xor edi, eax
.skip_name:
        lodsb                       ; step to the next name
        test al, al
        jnz .skip_name
        add ebx, 4
        loop .report

        PRINT 'bench: iterations='
        mov eax, [iterations]
        call print_dec
        PRINT ' checksum='
        mov eax, edi
        call print_hex32
        PRINT 10
        mov al, [failed]
        out 0xF4, al                ; isa-debug-exit: the run ends here
        cli
.halt:  hlt
        jmp .halt

kernel_names:
        db 'sieve ', 0, 'crc32 ', 0, 'sort  ', 0, 'string', 0, 'muldiv', 0, 'branch', 0

; accumulate: [EBX] = [EBX] * 31 + EAX.  Order matters, so a kernel that got
; one iteration wrong changes the sum for good.
accumulate:
        push edx
        mov edx, [ebx]
        imul edx, edx, 31
        add edx, eax
        mov [ebx], edx
        pop edx
        ret

; random: EAX = the next xorshift32 number (Marsaglia: x ^= x<<13, x>>17, x<<5).
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

; fail: a kernel's self-check found a wrong result.
fail:
        mov byte [failed], 1
        PRINT 'bench: ERROR: a kernel checked its result and found it wrong', 10
        ret

; =============================================================================
; sieve: count the primes below N.
; =============================================================================
sieve:
        pushad
        call random
        and eax, 4095
        add eax, SIEVE_MAX
        mov ebx, eax                ; EBX = N
        mov edi, sieve_flags
        mov ecx, ebx
        mov al, 1
        rep stosb                   ; all candidates start "prime"
        mov byte [sieve_flags], 0
        mov byte [sieve_flags + 1], 0
        mov esi, 2                  ; ESI = i
.outer: mov eax, esi
        mul esi                     ; EAX = i * i
        cmp eax, ebx
        jae .count
        cmp byte [sieve_flags + esi], 0
        je .next_i
.cross: mov byte [sieve_flags + eax], 0   ; cross out i*i, i*i + i, ...
        add eax, esi
        cmp eax, ebx
        jb .cross
.next_i:
        inc esi
        jmp .outer
.count: xor eax, eax
        xor ecx, ecx
.sum:   movzx edx, byte [sieve_flags + ecx]
        add eax, edx
        inc ecx
        cmp ecx, ebx
        jb .sum
        ; 32768 has 3512 primes below it: check the count is in a sane range.
        cmp eax, 3512
        jb .bad
        cmp eax, 4000
        jb .ok
.bad:   call fail
.ok:    shl ebx, 16
        xor eax, ebx
        mov [esp + 28], eax         ; return EAX through POPAD
        popad
        ret

; =============================================================================
; crc32: the CRC-32 of Ethernet and zip (reflected polynomial 0xEDB88320),
; one table lookup per byte.
; =============================================================================
crc32_make_table:
        pushad
        xor ecx, ecx                ; the table index n
.entry: mov eax, ecx
        mov edx, 8
.bit:   shr eax, 1                  ; divide by the polynomial, bit by bit
        jnc .no_xor
        xor eax, 0xEDB88320
.no_xor:
        dec edx
        jnz .bit
        mov [crc_table + ecx * 4], eax
        inc ecx
        cmp ecx, 256
        jb .entry
        popad
        ret

crc32_kernel:
        pushad
        mov edi, data_buf           ; fill the buffer with random bytes
        mov ecx, CRC_BYTES / 4
.fill:  call random
        stosd
        loop .fill
        mov esi, data_buf
        mov ecx, CRC_BYTES
        mov eax, 0xFFFFFFFF         ; CRC-32 starts with all ones ...
.byte:  movzx edx, byte [esi]
        inc esi
        xor dl, al
        shr eax, 8
        xor eax, [crc_table + edx * 4]
        dec ecx
        jnz .byte
        not eax                     ; ... and ends inverted
        mov [esp + 28], eax
        popad
        ret

; =============================================================================
; sort: quicksort 2048 random numbers, insertion-sort 128 more, check both
; are in order, and sum the sorted values weighted by their position.
; =============================================================================
sort_kernel:
        pushad
        mov edi, sort_array
        mov ecx, SORT_COUNT
.fill:  call random
        shr eax, 4                  ; keep the numbers non-negative
        stosd
        loop .fill
        mov esi, sort_array
        lea edi, [sort_array + (SORT_COUNT - 1) * 4]
        call quicksort
        mov esi, sort_array
        mov ecx, SORT_COUNT
        call check_sorted
        mov ebx, eax

        mov edi, isort_array
        mov ecx, ISORT_COUNT
.fill2: call random
        and eax, 0xFFFF
        stosd
        loop .fill2
        call insertion_sort
        mov esi, isort_array
        mov ecx, ISORT_COUNT
        call check_sorted
        rol ebx, 7
        xor eax, ebx
        mov [esp + 28], eax
        popad
        ret

; quicksort: sort the dwords from [ESI] to [EDI] inclusive (Hoare's
; partition around the middle element; a call sorts the left part, a jump
; back to the top sorts the right part).
quicksort:
        cmp esi, edi
        jae .done
        push esi
        push edi
        mov eax, edi
        sub eax, esi
        shr eax, 3
        mov edx, [esi + eax * 4]    ; the pivot: the middle element
        mov ebx, esi                ; EBX = i (scans up)
        mov ecx, edi                ; ECX = j (scans down)
.scan_up:
        cmp [ebx], edx
        jae .scan_down
        add ebx, 4
        jmp .scan_up
.scan_down:
        cmp [ecx], edx
        jbe .meet
        sub ecx, 4
        jmp .scan_down
.meet:  cmp ebx, ecx
        jae .split
        mov eax, [ebx]              ; swap [i] and [j]
        xchg eax, [ecx]
        mov [ebx], eax
        add ebx, 4
        sub ecx, 4
        jmp .scan_up
.split: ; now [ESI..ECX] <= pivot <= [ECX+4..EDI]
        pop edi
        pop esi
        push edi
        push ecx
        mov edi, ecx
        call quicksort              ; the left part
        pop ecx
        pop edi
        lea esi, [ecx + 4]
        jmp quicksort               ; the right part (a tail call)
.done:  ret

; insertion_sort: isort_array, the way one sorts a hand of cards.
insertion_sort:
        mov ecx, 1
.outer: cmp ecx, ISORT_COUNT
        jae .done
        mov eax, [isort_array + ecx * 4]    ; the card to place
        mov edx, ecx
.shift: test edx, edx
        jz .place
        mov ebx, [isort_array + edx * 4 - 4]
        cmp ebx, eax
        jbe .place
        mov [isort_array + edx * 4], ebx    ; move the bigger one right
        dec edx
        jmp .shift
.place: mov [isort_array + edx * 4], eax
        inc ecx
        jmp .outer
.done:  ret

; check_sorted: ECX dwords at ESI.  Returns EAX = sum of value * (index + 1);
; calls fail if any element is smaller than the one before it.
check_sorted:
        push ebx
        push ecx
        push edx
        push esi
        xor eax, eax
        xor ebx, ebx                ; the previous value
        xor edx, edx                ; the index
.next:  cmp [esi], ebx
        jae .in_order
        call fail
.in_order:
        mov ebx, [esi]
        inc edx
        push edx
        imul edx, ebx
        add eax, edx
        pop edx
        add esi, 4
        loop .next
        pop esi
        pop edx
        pop ecx
        pop ebx
        ret

; =============================================================================
; string: the x86 string instructions, as memcpy/memset/memcmp/strlen use them.
; =============================================================================
string_kernel:
        pushad
        mov edi, data_buf           ; random source data
        mov ecx, STRING_DWORDS
.fill:  call random
        stosd
        loop .fill
        mov esi, data_buf           ; memcpy with REP MOVSD
        mov edi, copy_buf
        mov ecx, STRING_DWORDS
        rep movsd
        mov esi, data_buf           ; memcmp with REPE CMPSD: all equal
        mov edi, copy_buf
        mov ecx, STRING_DWORDS
        repe cmpsd
        je .same
        call fail
.same:  call random                 ; change one dword somewhere ...
        and eax, STRING_DWORDS - 1
        mov ebx, eax
        not dword [copy_buf + eax * 4]
        mov esi, data_buf           ; ... and let REPE CMPSD find it
        mov edi, copy_buf
        mov ecx, STRING_DWORDS
        repe cmpsd
        mov eax, STRING_DWORDS - 1
        sub eax, ecx                ; the index where they differed
        cmp eax, ebx
        je .found
        call fail
.found: mov edx, eax
        ; memset with REP STOSD, then a byte-by-byte copy of half of it back
        mov edi, copy_buf
        mov ecx, STRING_DWORDS
        mov eax, 0x20202020
        rep stosd
        mov esi, data_buf
        mov edi, copy_buf
        mov ecx, STRING_DWORDS * 2
.bytes: mov al, [esi]
        inc esi
        or al, 0x01                 ; no zero bytes: this becomes a string
        mov [edi], al
        inc edi
        dec ecx
        jnz .bytes
        call random                 ; cut the string at a random length
        and eax, STRING_DWORDS * 2 - 1
        mov byte [copy_buf + eax], 0
        mov ebx, eax
        mov edi, copy_buf           ; strlen with REPNE SCASB
        mov ecx, -1
        xor al, al
        repne scasb
        not ecx
        dec ecx                     ; ECX = the length
        cmp ecx, ebx
        je .len_ok
        call fail
.len_ok:
        ; A checksum of the copied bytes, 4 at a time with LODSD.
        mov esi, copy_buf
        mov ecx, STRING_DWORDS
        xor ebx, ebx
.sum:   lodsd
        rol ebx, 3
        add ebx, eax
        loop .sum
        lea eax, [ebx + edx]
        mov [esp + 28], eax
        popad
        ret

; =============================================================================
; muldiv: integer multiply and divide, unsigned and signed.
; =============================================================================
muldiv_kernel:
        pushad
        xor edi, edi                ; the result
        mov ebp, MULDIV_ROUNDS
.round:
        ; gcd(a, b) by Euclid's algorithm: DIV gives the remainder.
        call random
        mov ebx, eax
        call random
        or eax, 1
        mov ecx, eax
        mov eax, ebx
.gcd:   xor edx, edx
        div ecx                     ; EDX = a mod b
        mov eax, ecx
        mov ecx, edx
        test ecx, ecx
        jnz .gcd
        add edi, eax                ; EAX = gcd

        ; base^exp mod m by repeated squaring: 64-bit MUL products, DIV by m.
        call random
        mov ebx, eax                ; EBX = base
        call random
        and eax, 0xFFFF
        mov esi, eax                ; ESI = exponent
        call random
        or eax, 0x80000001          ; m: odd, at least 2^31
        mov ecx, eax
        mov eax, ebx
        xor edx, edx
        div ecx
        mov ebx, edx                ; base mod m
        mov eax, 1                  ; the result so far
.pow:   test esi, esi
        jz .pow_done
        test esi, 1
        jz .square
        mul ebx                     ; EDX:EAX = result * base
        div ecx                     ; EDX = that mod m
        mov eax, edx
.square:
        push eax
        mov eax, ebx
        mul ebx
        div ecx
        mov ebx, edx                ; base = base^2 mod m
        pop eax
        shr esi, 1
        jmp .pow
.pow_done:
        xor edi, eax

        ; Signed: the average of two random signed numbers by IDIV, and a
        ; 32x32 IMUL.
        call random
        mov ebx, eax
        call random
        sar eax, 1
        sar ebx, 1
        add eax, ebx
        cdq                         ; EDX:EAX = the sign-extended sum
        mov ecx, -3
        idiv ecx                    ; divide by -3: quotient and remainder
        imul eax, edx
        imul eax, eax, -7
        add edi, eax
        rol edi, 1

        dec ebp
        jnz .round
        mov [esp + 28], edi
        popad
        ret

; =============================================================================
; branch: tokenize random text into words, numbers, operators and spaces, with
; a state machine whose states are addresses in a jump table.
; =============================================================================
CLASS_SPACE     equ 0
CLASS_LETTER    equ 1
CLASS_DIGIT     equ 2
CLASS_OTHER     equ 3

branch_kernel:
        pushad
        ; Random text over a small alphabet.
        mov edi, text_buf
        mov ecx, TEXT_BYTES
.fill:  call random
        shr eax, 16
        and eax, 31
        mov al, [alphabet + eax]
        stosb
        loop .fill
        mov byte [text_buf + TEXT_BYTES], 0

        mov esi, text_buf
        xor ebx, ebx                ; the token hash
        xor ebp, ebp                ; token counts, one byte per kind
        xor edi, edi                ; the state: 0 = between tokens
.char:  movzx eax, byte [esi]
        test eax, eax
        jz .end
        inc esi
        ; Classify the character with compares (many branches, on purpose).
        mov edx, CLASS_SPACE
        cmp al, ' '
        je .classified
        mov edx, CLASS_DIGIT
        cmp al, '0'
        jb .other
        cmp al, '9'
        jbe .classified
        mov edx, CLASS_LETTER
        cmp al, 'a'
        jb .other
        cmp al, 'z'
        jbe .classified
.other: mov edx, CLASS_OTHER
.classified:
        jmp [state_table + edi * 4]

.between:                           ; state 0: not inside a token
        cmp edx, CLASS_SPACE
        je .char
        cmp edx, CLASS_OTHER
        je .operator
        mov edi, edx                ; a word (1) or a number (2) starts
        imul ebx, ebx, 33
        add ebx, eax
        jmp .char
.in_word:                           ; state 1: letters and digits continue it
        cmp edx, CLASS_LETTER
        je .continue
        cmp edx, CLASS_DIGIT
        je .continue
        add ebp, 0x000001           ; a word ended
        jmp .token_end
.in_number:                         ; state 2: digits continue it
        cmp edx, CLASS_DIGIT
        je .continue
        add ebp, 0x000100           ; a number ended
        jmp .token_end
.continue:
        imul ebx, ebx, 33
        add ebx, eax
        jmp .char
.token_end:
        xor edi, edi
        rol ebx, 5
        cmp edx, CLASS_OTHER
        jne .char
.operator:
        add ebp, 0x010000           ; an operator character
        xor ebx, eax
        jmp .char
.end:   mov eax, ebx
        xor eax, ebp
        mov [esp + 28], eax
        popad
        ret

state_table:
        dd branch_kernel.between, branch_kernel.in_word, branch_kernel.in_number
alphabet:
        db 'etaoinsrhl    0123456789+-*/=(){'

; =============================================================================
load_end:
        section .bss
        alignb 16
bss_start:
rng_state:      resd 1
failed:         resb 1
                alignb 4
sum_sieve:      resd 1
sum_crc32:      resd 1
sum_sort:       resd 1
sum_string:     resd 1
sum_muldiv:     resd 1
sum_branch:     resd 1
crc_table:      resd 256
sort_array:     resd SORT_COUNT
isort_array:    resd ISORT_COUNT
data_buf:       resb STRING_DWORDS * 4
copy_buf:       resb STRING_DWORDS * 4
text_buf:       resb TEXT_BYTES + 4
sieve_flags:    resb SIEVE_MAX + 4096
                alignb 16
                resb 16384
stack_top:
bss_end:
