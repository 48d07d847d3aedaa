;; A tight integer loop: `n` rounds of xorshift64 mixed into an accumulator with a
;; multiply, a rotate and a few adds; locals only, no memory and no calls.
;; `run(n)` returns the accumulator mixed with the final generator state.
(module
  (func (export "run") (param $n i32) (result i64)
    (local $x i64)
    (local $acc i64)
    (local $i i32)
    (local.set $x (i64.const 0x9E3779B97F4A7C15))
    (local.set $acc (i64.const 0))
    (block $done
      (br_if $done (i32.eqz (local.get $n)))
      (loop $top
        ;; x ^= x << 13; x ^= x >> 7; x ^= x << 17
        (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 13))))
        (local.set $x (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 7))))
        (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 17))))
        ;; acc = rotl(acc * 31 + x, i & 63) + i
        (local.set $acc
          (i64.add
            (i64.rotl
              (i64.add (i64.mul (local.get $acc) (i64.const 31)) (local.get $x))
              (i64.extend_i32_u (i32.and (local.get $i) (i32.const 63))))
            (i64.extend_i32_u (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $top (i32.lt_u (local.get $i) (local.get $n)))))
    (i64.xor (local.get $acc) (local.get $x))))
