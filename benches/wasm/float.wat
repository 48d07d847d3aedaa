;; Float kernel: the Mandelbrot set on an n x n grid over [-2, 1] x [-1.5, 1.5] with at
;; most 100 iterations per point (f64 mul/add/sub/compare in a data-dependent loop, plus
;; a division, a conversion and a square root per point).
;;
;; `run(n)` returns the total iteration count mixed with the bits of the sum of the final
;; |z| of every point; IEEE-754 basic operations and sqrt are exactly rounded and no NaN
;; is ever produced, so the result is deterministic across engines.
(module
  (func (export "run") (param $n i32) (result i64)
    (local $px i32) (local $py i32) (local $it i32)
    (local $total i64)
    (local $fn f64) (local $cr f64) (local $ci f64)
    (local $zr f64) (local $zi f64) (local $zr2 f64) (local $zi2 f64)
    (local $mag f64)
    (local.set $fn (f64.convert_i32_u (local.get $n)))
    (local.set $py (i32.const 0))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $py) (local.get $n)))
        (local.set $ci
          (f64.sub
            (f64.div (f64.mul (f64.const 3) (f64.convert_i32_u (local.get $py))) (local.get $fn))
            (f64.const 1.5)))
        (local.set $px (i32.const 0))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.ge_u (local.get $px) (local.get $n)))
            (local.set $cr
              (f64.sub
                (f64.div (f64.mul (f64.const 3) (f64.convert_i32_u (local.get $px))) (local.get $fn))
                (f64.const 2)))
            (local.set $zr (f64.const 0))
            (local.set $zi (f64.const 0))
            (local.set $zr2 (f64.const 0))
            (local.set $zi2 (f64.const 0))
            (local.set $it (i32.const 0))
            (block $escaped
              (loop $iter
                (br_if $escaped (f64.gt (f64.add (local.get $zr2) (local.get $zi2)) (f64.const 4)))
                (br_if $escaped (i32.ge_u (local.get $it) (i32.const 100)))
                (local.set $zi
                  (f64.add
                    (f64.mul (f64.mul (f64.const 2) (local.get $zr)) (local.get $zi))
                    (local.get $ci)))
                (local.set $zr
                  (f64.add (f64.sub (local.get $zr2) (local.get $zi2)) (local.get $cr)))
                (local.set $zr2 (f64.mul (local.get $zr) (local.get $zr)))
                (local.set $zi2 (f64.mul (local.get $zi) (local.get $zi)))
                (local.set $it (i32.add (local.get $it) (i32.const 1)))
                (br $iter)))
            (local.set $total (i64.add (local.get $total) (i64.extend_i32_u (local.get $it))))
            (local.set $mag
              (f64.add (local.get $mag) (f64.sqrt (f64.add (local.get $zr2) (local.get $zi2)))))
            (local.set $px (i32.add (local.get $px) (i32.const 1)))
            (br $cols)))
        (local.set $py (i32.add (local.get $py) (i32.const 1)))
        (br $rows)))
    (i64.xor
      (i64.mul (local.get $total) (i64.const 1000003))
      (i64.reinterpret_f64 (local.get $mag)))))
