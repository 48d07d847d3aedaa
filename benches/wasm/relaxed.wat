;; Relaxed SIMD instructions against their WebAssembly 2.0 counterparts, for the
;; `relaxed/<kernel>/<engine>` groups of benches/benches/simd.rs (needs 3.0 mode).
;;
;; `init(seed)` fills the first 32 KiB + 16 bytes with an xorshift sequence. Each kernel
;; walks the buffer sixteen bytes at a time with `v` the vector at the position and `w`
;; the next one, and makes the accumulator an operand of `op` (mixed with `v` or `w`), so
;; that every iteration waits for the previous one's `op`: the loop measures the latency of
;; `op`'s machine code. `reps` times; returns the sum of the accumulator's two i64 lanes. The
;; `_v2` and `_relaxed` twins differ only in `op`.
(module
  (memory (export "memory") 1)

  (func (export "init") (param $seed i32)
    (local $p i32) (local $x i32)
    (local.set $x (i32.or (local.get $seed) (i32.const 1)))
    (loop $fill
      (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 13))))
      (local.set $x (i32.xor (local.get $x) (i32.shr_u (local.get $x) (i32.const 17))))
      (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 5))))
      (i32.store (local.get $p) (local.get $x))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (br_if $fill (i32.lt_u (local.get $p) (i32.const 32784)))))

  ;; swizzle: acc = w ^ swizzle(v, acc) (random indices, most of them out of range).
  (func (export "swizzle_v2") (param $reps i32) (result i64)
    (local $p i32) (local $v v128) (local $w v128) (local $acc v128)
    (block $done
      (loop $rep
        (br_if $done (i32.eqz (local.get $reps)))
        (local.set $p (i32.const 0))
        (loop $walk
          (local.set $v (v128.load (local.get $p)))
          (local.set $w (v128.load offset=16 (local.get $p)))
          (local.set $acc (v128.xor (local.get $w) (i8x16.swizzle (local.get $v) (local.get $acc))))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br_if $walk (i32.lt_u (local.get $p) (i32.const 32768))))
        (local.set $reps (i32.sub (local.get $reps) (i32.const 1)))
        (br $rep)))
    (i64.add (i64x2.extract_lane 0 (local.get $acc)) (i64x2.extract_lane 1 (local.get $acc))))
  (func (export "swizzle_relaxed") (param $reps i32) (result i64)
    (local $p i32) (local $v v128) (local $w v128) (local $acc v128)
    (block $done
      (loop $rep
        (br_if $done (i32.eqz (local.get $reps)))
        (local.set $p (i32.const 0))
        (loop $walk
          (local.set $v (v128.load (local.get $p)))
          (local.set $w (v128.load offset=16 (local.get $p)))
          (local.set $acc (v128.xor (local.get $w) (i8x16.relaxed_swizzle (local.get $v) (local.get $acc))))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br_if $walk (i32.lt_u (local.get $p) (i32.const 32768))))
        (local.set $reps (i32.sub (local.get $reps) (i32.const 1)))
        (br $rep)))
    (i64.add (i64x2.extract_lane 0 (local.get $acc)) (i64x2.extract_lane 1 (local.get $acc))))

  ;; trunc: acc = trunc(acc ^ v), random float bits (a third of the lanes NaN or out of range).
  (func (export "trunc_v2") (param $reps i32) (result i64)
    (local $p i32) (local $v v128) (local $w v128) (local $acc v128)
    (block $done
      (loop $rep
        (br_if $done (i32.eqz (local.get $reps)))
        (local.set $p (i32.const 0))
        (loop $walk
          (local.set $v (v128.load (local.get $p)))
          (local.set $w (v128.load offset=16 (local.get $p)))
          (local.set $acc (i32x4.trunc_sat_f32x4_s (v128.xor (local.get $acc) (local.get $v))))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br_if $walk (i32.lt_u (local.get $p) (i32.const 32768))))
        (local.set $reps (i32.sub (local.get $reps) (i32.const 1)))
        (br $rep)))
    (i64.add (i64x2.extract_lane 0 (local.get $acc)) (i64x2.extract_lane 1 (local.get $acc))))
  (func (export "trunc_relaxed") (param $reps i32) (result i64)
    (local $p i32) (local $v v128) (local $w v128) (local $acc v128)
    (block $done
      (loop $rep
        (br_if $done (i32.eqz (local.get $reps)))
        (local.set $p (i32.const 0))
        (loop $walk
          (local.set $v (v128.load (local.get $p)))
          (local.set $w (v128.load offset=16 (local.get $p)))
          (local.set $acc (i32x4.relaxed_trunc_f32x4_s (v128.xor (local.get $acc) (local.get $v))))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br_if $walk (i32.lt_u (local.get $p) (i32.const 32768))))
        (local.set $reps (i32.sub (local.get $reps) (i32.const 1)))
        (br $rep)))
    (i64.add (i64x2.extract_lane 0 (local.get $acc)) (i64x2.extract_lane 1 (local.get $acc))))

  ;; min: acc = min(acc ^ v, w) of random float bits.
  (func (export "min_v2") (param $reps i32) (result i64)
    (local $p i32) (local $v v128) (local $w v128) (local $acc v128)
    (block $done
      (loop $rep
        (br_if $done (i32.eqz (local.get $reps)))
        (local.set $p (i32.const 0))
        (loop $walk
          (local.set $v (v128.load (local.get $p)))
          (local.set $w (v128.load offset=16 (local.get $p)))
          (local.set $acc (f32x4.min (v128.xor (local.get $acc) (local.get $v)) (local.get $w)))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br_if $walk (i32.lt_u (local.get $p) (i32.const 32768))))
        (local.set $reps (i32.sub (local.get $reps) (i32.const 1)))
        (br $rep)))
    (i64.add (i64x2.extract_lane 0 (local.get $acc)) (i64x2.extract_lane 1 (local.get $acc))))
  (func (export "min_relaxed") (param $reps i32) (result i64)
    (local $p i32) (local $v v128) (local $w v128) (local $acc v128)
    (block $done
      (loop $rep
        (br_if $done (i32.eqz (local.get $reps)))
        (local.set $p (i32.const 0))
        (loop $walk
          (local.set $v (v128.load (local.get $p)))
          (local.set $w (v128.load offset=16 (local.get $p)))
          (local.set $acc (f32x4.relaxed_min (v128.xor (local.get $acc) (local.get $v)) (local.get $w)))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br_if $walk (i32.lt_u (local.get $p) (i32.const 32768))))
        (local.set $reps (i32.sub (local.get $reps) (i32.const 1)))
        (br $rep)))
    (i64.add (i64x2.extract_lane 0 (local.get $acc)) (i64x2.extract_lane 1 (local.get $acc))))

  ;; q15mulr: acc = q15mulr(acc ^ v, w).
  (func (export "q15mulr_v2") (param $reps i32) (result i64)
    (local $p i32) (local $v v128) (local $w v128) (local $acc v128)
    (block $done
      (loop $rep
        (br_if $done (i32.eqz (local.get $reps)))
        (local.set $p (i32.const 0))
        (loop $walk
          (local.set $v (v128.load (local.get $p)))
          (local.set $w (v128.load offset=16 (local.get $p)))
          (local.set $acc (i16x8.q15mulr_sat_s (v128.xor (local.get $acc) (local.get $v)) (local.get $w)))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br_if $walk (i32.lt_u (local.get $p) (i32.const 32768))))
        (local.set $reps (i32.sub (local.get $reps) (i32.const 1)))
        (br $rep)))
    (i64.add (i64x2.extract_lane 0 (local.get $acc)) (i64x2.extract_lane 1 (local.get $acc))))
  (func (export "q15mulr_relaxed") (param $reps i32) (result i64)
    (local $p i32) (local $v v128) (local $w v128) (local $acc v128)
    (block $done
      (loop $rep
        (br_if $done (i32.eqz (local.get $reps)))
        (local.set $p (i32.const 0))
        (loop $walk
          (local.set $v (v128.load (local.get $p)))
          (local.set $w (v128.load offset=16 (local.get $p)))
          (local.set $acc (i16x8.relaxed_q15mulr_s (v128.xor (local.get $acc) (local.get $v)) (local.get $w)))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br_if $walk (i32.lt_u (local.get $p) (i32.const 32768))))
        (local.set $reps (i32.sub (local.get $reps) (i32.const 1)))
        (br $rep)))
    (i64.add (i64x2.extract_lane 0 (local.get $acc)) (i64x2.extract_lane 1 (local.get $acc))))

  ;; laneselect: acc = select(v, w, mask acc).
  (func (export "laneselect_v2") (param $reps i32) (result i64)
    (local $p i32) (local $v v128) (local $w v128) (local $acc v128)
    (block $done
      (loop $rep
        (br_if $done (i32.eqz (local.get $reps)))
        (local.set $p (i32.const 0))
        (loop $walk
          (local.set $v (v128.load (local.get $p)))
          (local.set $w (v128.load offset=16 (local.get $p)))
          (local.set $acc (v128.bitselect (local.get $v) (local.get $w) (local.get $acc)))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br_if $walk (i32.lt_u (local.get $p) (i32.const 32768))))
        (local.set $reps (i32.sub (local.get $reps) (i32.const 1)))
        (br $rep)))
    (i64.add (i64x2.extract_lane 0 (local.get $acc)) (i64x2.extract_lane 1 (local.get $acc))))
  (func (export "laneselect_relaxed") (param $reps i32) (result i64)
    (local $p i32) (local $v v128) (local $w v128) (local $acc v128)
    (block $done
      (loop $rep
        (br_if $done (i32.eqz (local.get $reps)))
        (local.set $p (i32.const 0))
        (loop $walk
          (local.set $v (v128.load (local.get $p)))
          (local.set $w (v128.load offset=16 (local.get $p)))
          (local.set $acc (i32x4.relaxed_laneselect (local.get $v) (local.get $w) (local.get $acc)))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br_if $walk (i32.lt_u (local.get $p) (i32.const 32768))))
        (local.set $reps (i32.sub (local.get $reps) (i32.const 1)))
        (br $rep)))
    (i64.add (i64x2.extract_lane 0 (local.get $acc)) (i64x2.extract_lane 1 (local.get $acc))))
)
