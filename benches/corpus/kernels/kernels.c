/* Small C kernels for comparing Kiln's interpreter and compilers with wasmi (issue 19).
 * Each kernel is exported as `[i32] -> [i64]`: work size in, checksum out. The checksums
 * depend only on the work size, so a native build prints the same values. */
#include <stdint.h>
#include <string.h>

#ifdef NATIVE_MAIN
#define EXPORT(name) __attribute__((noinline))
#else
#define EXPORT(name) __attribute__((export_name(name)))
#endif

/* xorshift64: the deterministic input of every kernel. */
static uint64_t rng_state;
static uint64_t next_random(void) {
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng_state = x;
    return x;
}

#define BUFFER_SIZE 4096
static uint8_t buffer[BUFFER_SIZE];

/* Byte loop: FNV-1a and a byte histogram over a 4 KiB buffer, `n` passes, each pass
 * rewriting a byte so no pass is the same. */
EXPORT("byteloop") int64_t byteloop(int32_t n) {
    rng_state = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < BUFFER_SIZE; i++) buffer[i] = (uint8_t)next_random();
    uint32_t histogram[256];
    memset(histogram, 0, sizeof histogram);
    uint64_t hash = 0xcbf29ce484222325ull;
    for (int32_t pass = 0; pass < n; pass++) {
        for (int i = 0; i < BUFFER_SIZE; i++) {
            uint8_t b = buffer[i];
            hash = (hash ^ b) * 0x100000001b3ull;
            histogram[b]++;
        }
        buffer[pass % BUFFER_SIZE] ^= (uint8_t)hash;
    }
    uint64_t sum = hash;
    for (int i = 0; i < 256; i++) sum = sum * 31 + histogram[i];
    return (int64_t)sum;
}

static inline uint32_t rotl32(uint32_t x, unsigned r) { return (x << r) | (x >> (32 - r)); }
static inline uint64_t rotl64(uint64_t x, unsigned r) { return (x << r) | (x >> (64 - r)); }

/* ALU chain with rotates: `n` rounds of add/xor/rotate mixing on 32- and 64-bit state
 * (a ChaCha-like quarter round plus a 64-bit mixer). */
EXPORT("alu_rotate") int64_t alu_rotate(int32_t n) {
    uint32_t a = 0x61707865, b = 0x3320646e, c = 0x79622d32, d = 0x6b206574;
    uint64_t w = 0x243F6A8885A308D3ull;
    for (int32_t i = 0; i < n; i++) {
        a += b; d ^= a; d = rotl32(d, 16);
        c += d; b ^= c; b = rotl32(b, 12);
        a += b; d ^= a; d = rotl32(d, 8);
        c += d; b ^= c; b = rotl32(b, 7);
        w = rotl64(w ^ ((uint64_t)a << 32 | d), 23) * 0x9E3779B97F4A7C15ull + (uint32_t)i;
        w ^= w >> 29;
    }
    return (int64_t)(w ^ ((uint64_t)b << 32 | c));
}

/* Recursion: naive Fibonacci and the Ackermann function A(2, k), kept out of line. */
__attribute__((noinline)) static uint64_t fib(uint32_t k) {
    return k < 2 ? k : fib(k - 1) + fib(k - 2);
}
__attribute__((noinline)) static uint32_t ackermann(uint32_t m, uint32_t k) {
    if (m == 0) return k + 1;
    if (k == 0) return ackermann(m - 1, 1);
    return ackermann(m - 1, ackermann(m, k - 1));
}
/* `n` rounds of fib(15 + i % 6) and ackermann(2, i % 50). */
EXPORT("recursion") int64_t recursion(int32_t n) {
    uint64_t sum = 0;
    for (int32_t i = 0; i < n; i++) {
        sum = sum * 7 + fib(15 + (uint32_t)i % 6);
        sum += ackermann(2, (uint32_t)i % 50);
    }
    return (int64_t)sum;
}

/* Float loop: `n` steps of a damped oscillator and a Mandelbrot-style orbit, in doubles;
 * the checksum is the bit pattern of the results (exactly reproducible: no libm calls,
 * no fused multiply-add, the same rounding in Wasm and x86-64 SSE2). */
EXPORT("float_loop") int64_t float_loop(int32_t n) {
    double x = 1.0, v = 0.0, dt = 0.001, k = 4.0, damping = 0.01;
    double zr = 0.0, zi = 0.0, cr = -0.7453, ci = 0.1127;
    int escapes = 0;
    for (int32_t i = 0; i < n; i++) {
        double a = -k * x - damping * v;
        v += a * dt;
        x += v * dt;
        double t = zr * zr - zi * zi + cr;
        zi = 2.0 * zr * zi + ci;
        zr = t;
        if (zr * zr + zi * zi > 4.0) {
            zr = x;
            zi = v;
            escapes++;
        }
    }
    uint64_t bits[4];
    double values[4] = {x, v, zr, zi};
    memcpy(bits, values, sizeof bits);
    return (int64_t)(bits[0] ^ rotl64(bits[1], 16) ^ rotl64(bits[2], 32) ^ rotl64(bits[3], 48)) +
           escapes;
}

/* A bytecode interpreter with a dense switch: a small stack machine running a loop that
 * sums a polynomial, `n` iterations of the bytecode loop. */
enum {
    OP_PUSH, OP_LOAD, OP_STORE, OP_ADD, OP_SUB, OP_MUL, OP_XOR, OP_SHL, OP_SHR, OP_DUP,
    OP_SWAP, OP_DROP, OP_JNZ, OP_INC, OP_DEC, OP_HALT
};
/* Locals: 0 = counter, 1 = accumulator, 2 = i. */
static const int32_t program[] = {
    /* 0 */ OP_LOAD, 2, OP_DUP, OP_MUL, OP_PUSH, 3, OP_MUL,          /* 3*i*i */
    /* 7 */ OP_LOAD, 2, OP_PUSH, 5, OP_MUL, OP_ADD, OP_PUSH, 7, OP_ADD, /* + 5*i + 7 */
    /* 16 */ OP_LOAD, 1, OP_PUSH, 1, OP_SHL, OP_XOR, OP_LOAD, 1, OP_PUSH, 3, OP_SHR, OP_ADD,
    /* 28 */ OP_STORE, 1,                                             /* acc = ... */
    /* 30 */ OP_LOAD, 2, OP_INC, OP_STORE, 2,                         /* i++ */
    /* 35 */ OP_LOAD, 0, OP_DEC, OP_DUP, OP_STORE, 0,                 /* counter-- */
    /* 41 */ OP_JNZ, 0, OP_HALT,
};
__attribute__((noinline)) static int64_t interpret(const int32_t *code, int64_t *locals) {
    int64_t stack[16];
    int sp = 0;
    int pc = 0;
    for (;;) {
        int32_t op = code[pc++];
        switch (op) {
        case OP_PUSH: stack[sp++] = code[pc++]; break;
        case OP_LOAD: stack[sp++] = locals[code[pc++]]; break;
        case OP_STORE: locals[code[pc++]] = stack[--sp]; break;
        case OP_ADD: sp--; stack[sp - 1] += stack[sp]; break;
        case OP_SUB: sp--; stack[sp - 1] -= stack[sp]; break;
        case OP_MUL: sp--; stack[sp - 1] = (int64_t)((uint64_t)stack[sp - 1] * (uint64_t)stack[sp]); break;
        case OP_XOR: sp--; stack[sp - 1] ^= stack[sp]; break;
        case OP_SHL: sp--; stack[sp - 1] = (int64_t)((uint64_t)stack[sp - 1] << (stack[sp] & 63)); break;
        case OP_SHR: sp--; stack[sp - 1] = (int64_t)((uint64_t)stack[sp - 1] >> (stack[sp] & 63)); break;
        case OP_DUP: stack[sp] = stack[sp - 1]; sp++; break;
        case OP_SWAP: { int64_t t = stack[sp - 1]; stack[sp - 1] = stack[sp - 2]; stack[sp - 2] = t; break; }
        case OP_DROP: sp--; break;
        case OP_JNZ: { int32_t target = code[pc++]; if (stack[--sp] != 0) pc = target; break; }
        case OP_INC: stack[sp - 1]++; break;
        case OP_DEC: stack[sp - 1]--; break;
        case OP_HALT: return locals[1];
        default: return -1;
        }
    }
}
EXPORT("switch_interp") int64_t switch_interp(int32_t n) {
    if (n < 1) n = 1;
    int64_t locals[3] = {n, 0x12345, 0};
    return interpret(program, locals);
}

/* Sorting: fill an array of `n` pseudo-random 32-bit keys, sort it with a hand-written
 * quicksort (median of three, insertion sort for short ranges), and fold the result. */
#define MAX_SORT 1000000
static uint32_t keys[MAX_SORT];
static void insertion_sort(uint32_t *a, int32_t len) {
    for (int32_t i = 1; i < len; i++) {
        uint32_t v = a[i];
        int32_t j = i - 1;
        while (j >= 0 && a[j] > v) { a[j + 1] = a[j]; j--; }
        a[j + 1] = v;
    }
}
static void quicksort(uint32_t *a, int32_t len) {
    while (len > 16) {
        uint32_t x = a[0], y = a[len / 2], z = a[len - 1];
        uint32_t pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        int32_t i = 0, j = len - 1;
        for (;;) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i >= j) break;
            uint32_t t = a[i]; a[i] = a[j]; a[j] = t;
            i++; j--;
        }
        /* Recurse into the smaller side, loop on the larger (bounded stack depth). */
        int32_t left = j + 1;
        if (left < len - left) { quicksort(a, left); a += left; len -= left; }
        else { quicksort(a + left, len - left); len = left; }
    }
    insertion_sort(a, len);
}
EXPORT("sort") int64_t sort(int32_t n) {
    if (n < 0) n = 0;
    if (n > MAX_SORT) n = MAX_SORT;
    rng_state = 0x2545F4914F6CDD1Dull;
    for (int32_t i = 0; i < n; i++) keys[i] = (uint32_t)(next_random() >> 32);
    quicksort(keys, n);
    uint64_t sum = 0;
    for (int32_t i = 0; i < n; i++) {
        if (i > 0 && keys[i - 1] > keys[i]) return -1; /* not sorted */
        sum = sum * 1000003 + keys[i];
    }
    return (int64_t)sum;
}

#ifdef NATIVE_MAIN
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    const char *which = argc > 1 ? argv[1] : "";
    int32_t n = argc > 2 ? atoi(argv[2]) : 1;
    int64_t r;
    if (!strcmp(which, "byteloop")) r = byteloop(n);
    else if (!strcmp(which, "alu_rotate")) r = alu_rotate(n);
    else if (!strcmp(which, "recursion")) r = recursion(n);
    else if (!strcmp(which, "float_loop")) r = float_loop(n);
    else if (!strcmp(which, "switch_interp")) r = switch_interp(n);
    else if (!strcmp(which, "sort")) r = sort(n);
    else { fprintf(stderr, "unknown kernel %s\n", which); return 2; }
    printf("%lld\n", (long long)r);
    return 0;
}
#endif
