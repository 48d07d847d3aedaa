;; SIMD kernels and their scalar twins, for benches/benches/simd.rs.
;;
;; Memory: a[] (4096 i32) at 0, b[] (4096 i32) at 16384, a 32 KiB byte buffer at 32768.
;; `init(seed)` fills both with an xorshift sequence. Every kernel returns an i64 so the
;; bench can compare the scalar and vector versions with each other and with Rust.
(module
  (memory (export "memory") 2)

  ;; xorshift32 fill of a[], b[] and the byte buffer (all 64 KiB after offset 0).
  (func (export "init") (param $seed i32)
    (local $p i32) (local $x i32)
    (local.set $x (i32.or (local.get $seed) (i32.const 1)))
    (loop $fill
      (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 13))))
      (local.set $x (i32.xor (local.get $x) (i32.shr_u (local.get $x) (i32.const 17))))
      (local.set $x (i32.xor (local.get $x) (i32.shl (local.get $x) (i32.const 5))))
      (i32.store (local.get $p) (local.get $x))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (br_if $fill (i32.lt_u (local.get $p) (i32.const 65536)))))

  ;; sum(a[i] * b[i]) for i < 4096, wrapping i32 arithmetic, `reps` times (sums added).
  (func (export "dot_scalar") (param $reps i32) (result i64)
    (local $i i32) (local $sum i32) (local $total i64)
    (block $done
      (loop $rep
        (br_if $done (i32.eqz (local.get $reps)))
        (local.set $i (i32.const 0))
        (local.set $sum (i32.const 0))
        (loop $dot
          (local.set $sum
            (i32.add (local.get $sum)
              (i32.mul (i32.load (local.get $i))
                       (i32.load offset=16384 (local.get $i)))))
          (local.set $i (i32.add (local.get $i) (i32.const 4)))
          (br_if $dot (i32.lt_u (local.get $i) (i32.const 16384))))
        (local.set $total (i64.add (local.get $total) (i64.extend_i32_u (local.get $sum))))
        (local.set $reps (i32.sub (local.get $reps) (i32.const 1)))
        (br $rep)))
    (local.get $total))

  ;; The same with four lanes at a time; the lanes are summed at the end.
  (func (export "dot_simd") (param $reps i32) (result i64)
    (local $i i32) (local $acc v128) (local $sum i32) (local $total i64)
    (block $done
      (loop $rep
        (br_if $done (i32.eqz (local.get $reps)))
        (local.set $i (i32.const 0))
        (local.set $acc (v128.const i32x4 0 0 0 0))
        (loop $dot
          (local.set $acc
            (i32x4.add (local.get $acc)
              (i32x4.mul (v128.load (local.get $i))
                         (v128.load offset=16384 (local.get $i)))))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br_if $dot (i32.lt_u (local.get $i) (i32.const 16384))))
        (local.set $sum
          (i32.add
            (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
            (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc)))))
        (local.set $total (i64.add (local.get $total) (i64.extend_i32_u (local.get $sum))))
        (local.set $reps (i32.sub (local.get $reps) (i32.const 1)))
        (br $rep)))
    (local.get $total))

  ;; How many of the 32 KiB of the buffer equal `needle`, `reps` times (counts added).
  (func (export "count_scalar") (param $needle i32) (param $reps i32) (result i64)
    (local $p i32) (local $count i32) (local $total i64)
    (local.set $needle (i32.and (local.get $needle) (i32.const 255)))
    (block $done
      (loop $rep
        (br_if $done (i32.eqz (local.get $reps)))
        (local.set $p (i32.const 32768))
        (local.set $count (i32.const 0))
        (loop $scan
          (local.set $count
            (i32.add (local.get $count)
              (i32.eq (i32.load8_u (local.get $p)) (local.get $needle))))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br_if $scan (i32.lt_u (local.get $p) (i32.const 65536))))
        (local.set $total (i64.add (local.get $total) (i64.extend_i32_u (local.get $count))))
        (local.set $reps (i32.sub (local.get $reps) (i32.const 1)))
        (br $rep)))
    (local.get $total))

  ;; The same sixteen bytes at a time: compare, take the lane mask, count its bits.
  (func (export "count_simd") (param $needle i32) (param $reps i32) (result i64)
    (local $p i32) (local $n v128) (local $count i32) (local $total i64)
    (local.set $n (i8x16.splat (local.get $needle)))
    (block $done
      (loop $rep
        (br_if $done (i32.eqz (local.get $reps)))
        (local.set $p (i32.const 32768))
        (local.set $count (i32.const 0))
        (loop $scan
          (local.set $count
            (i32.add (local.get $count)
              (i32.popcnt (i8x16.bitmask (i8x16.eq (v128.load (local.get $p)) (local.get $n))))))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br_if $scan (i32.lt_u (local.get $p) (i32.const 65536))))
        (local.set $total (i64.add (local.get $total) (i64.extend_i32_u (local.get $count))))
        (local.set $reps (i32.sub (local.get $reps) (i32.const 1)))
        (br $rep)))
    (local.get $total))
)
