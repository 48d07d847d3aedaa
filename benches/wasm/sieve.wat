;; Memory-heavy kernel: a byte-per-number sieve of Eratosthenes over `n` bytes of linear
;; memory (byte loads/stores with strided access), then a quicksort of `n / 8`
;; pseudo-random i32 values (i32 loads/stores, data-dependent branches, recursion).
;;
;; Memory layout: sieve flags at [0, 1 MiB), the i32 array to sort at [1 MiB, 1.5 MiB).
;; `run(n)` (n clamped to 1 MiB) returns a mix of the prime count, the prime sum, the
;; sorted array's fold and the number of out-of-order neighbours after sorting (0).
(module
  (memory 24)

  ;; Sorts the i32 values at addresses lo..=hi (both 4-aligned, inclusive) ascending
  ;; (signed). Recurses on the smaller partition and loops on the larger one, so the
  ;; recursion depth stays logarithmic.
  (func $qsort (param $lo i32) (param $hi i32)
    (local $mid i32) (local $i i32) (local $j i32) (local $pivot i32) (local $t i32)
    (block $done
      (loop $again
        (br_if $done (i32.ge_s (local.get $lo) (local.get $hi)))
        ;; Middle element as pivot, moved to hi.
        (local.set $mid
          (i32.add (local.get $lo)
            (i32.shl (i32.shr_u (i32.sub (local.get $hi) (local.get $lo)) (i32.const 3))
                     (i32.const 2))))
        (local.set $t (i32.load (local.get $mid)))
        (i32.store (local.get $mid) (i32.load (local.get $hi)))
        (i32.store (local.get $hi) (local.get $t))
        (local.set $pivot (local.get $t))
        ;; Lomuto partition.
        (local.set $i (local.get $lo))
        (local.set $j (local.get $lo))
        (block $pdone
          (loop $part
            (br_if $pdone (i32.ge_u (local.get $j) (local.get $hi)))
            (if (i32.lt_s (local.tee $t (i32.load (local.get $j))) (local.get $pivot))
              (then
                (i32.store (local.get $j) (i32.load (local.get $i)))
                (i32.store (local.get $i) (local.get $t))
                (local.set $i (i32.add (local.get $i) (i32.const 4)))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $part)))
        (local.set $t (i32.load (local.get $i)))
        (i32.store (local.get $i) (i32.load (local.get $hi)))
        (i32.store (local.get $hi) (local.get $t))
        (if (i32.lt_u (i32.sub (local.get $i) (local.get $lo))
                      (i32.sub (local.get $hi) (local.get $i)))
          (then
            (call $qsort (local.get $lo) (i32.sub (local.get $i) (i32.const 4)))
            (local.set $lo (i32.add (local.get $i) (i32.const 4))))
          (else
            (call $qsort (i32.add (local.get $i) (i32.const 4)) (local.get $hi))
            (local.set $hi (i32.sub (local.get $i) (i32.const 4)))))
        (br $again))))

  (func (export "run") (param $n i32) (result i64)
    (local $i i32) (local $j i32) (local $k i32) (local $seed i32) (local $v i32)
    (local $prev i32)
    (local $count i64) (local $sum i64) (local $acc i64) (local $inversions i64)
    (if (i32.gt_u (local.get $n) (i32.const 0x100000))
      (then (local.set $n (i32.const 0x100000))))

    ;; flags[0..n) = 1
    (local.set $i (i32.const 0))
    (block $done
      (loop $fill
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store8 (local.get $i) (i32.const 1))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $fill)))

    ;; Cross out multiples of every prime i with i * i < n.
    (local.set $i (i32.const 2))
    (block $done
      (loop $outer
        (br_if $done (i32.ge_u (i32.mul (local.get $i) (local.get $i)) (local.get $n)))
        (if (i32.load8_u (local.get $i))
          (then
            (local.set $j (i32.mul (local.get $i) (local.get $i)))
            (block $inner_done
              (loop $inner
                (br_if $inner_done (i32.ge_u (local.get $j) (local.get $n)))
                (i32.store8 (local.get $j) (i32.const 0))
                (local.set $j (i32.add (local.get $j) (local.get $i)))
                (br $inner)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))

    ;; Count and sum the primes below n.
    (local.set $i (i32.const 2))
    (block $done
      (loop $scan
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.load8_u (local.get $i))
          (then
            (local.set $count (i64.add (local.get $count) (i64.const 1)))
            (local.set $sum (i64.add (local.get $sum) (i64.extend_i32_u (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $scan)))

    ;; Fill k = n / 8 pseudo-random values (an LCG) at 1 MiB and sort them.
    (local.set $k (i32.shr_u (local.get $n) (i32.const 3)))
    (local.set $seed (i32.const 12345))
    (local.set $i (i32.const 0))
    (block $done
      (loop $gen
        (br_if $done (i32.ge_u (local.get $i) (local.get $k)))
        (local.set $seed
          (i32.add (i32.mul (local.get $seed) (i32.const 1103515245)) (i32.const 12345)))
        (i32.store offset=0x100000
          (i32.shl (local.get $i) (i32.const 2))
          (i32.xor (local.get $seed) (i32.shr_u (local.get $seed) (i32.const 16))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $gen)))
    (call $qsort
      (i32.const 0x100000)
      (i32.add (i32.const 0x100000)
               (i32.shl (i32.sub (local.get $k) (i32.const 1)) (i32.const 2))))

    ;; Fold the sorted array and count out-of-order neighbours.
    (local.set $prev (i32.const 0x80000000))
    (local.set $i (i32.const 0))
    (block $done
      (loop $fold
        (br_if $done (i32.ge_u (local.get $i) (local.get $k)))
        (local.set $v (i32.load offset=0x100000 (i32.shl (local.get $i) (i32.const 2))))
        (if (i32.lt_s (local.get $v) (local.get $prev))
          (then (local.set $inversions (i64.add (local.get $inversions) (i64.const 1)))))
        (local.set $prev (local.get $v))
        (local.set $acc
          (i64.add (i64.mul (local.get $acc) (i64.const 31))
                   (i64.extend_i32_s (local.get $v))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $fold)))

    (i64.add
      (i64.add (i64.shl (local.get $count) (i64.const 40)) (local.get $sum))
      (i64.add (i64.mul (local.get $acc) (i64.const 3))
               (i64.shl (local.get $inversions) (i64.const 56))))))
