;; Example module for `kiln run`.
;;
;;   cargo run --release -p kiln-cli -- run --invoke fib examples/fib.wat 30
;;   cargo run --release -p kiln-cli -- run --invoke fib_iter examples/fib.wat 90
;;   cargo run --release -p kiln-cli -- run --invoke add examples/fib.wat 2 40
(module $fib
  ;; Naive doubly recursive Fibonacci: fib(0) = 0, fib(1) = 1.
  ;; Exponential on purpose, which makes it a handy interpreter benchmark.
  (func $fib (export "fib") (param $n i64) (result i64)
    (if (result i64) (i64.lt_s (local.get $n) (i64.const 2))
      (then (local.get $n))
      (else
        (i64.add
          (call $fib (i64.sub (local.get $n) (i64.const 1)))
          (call $fib (i64.sub (local.get $n) (i64.const 2)))))))

  ;; The same sequence in a loop (wraps around modulo 2^64 past fib(92)).
  (func $fib_iter (export "fib_iter") (param $n i64) (result i64)
    (local $a i64) (local $b i64) (local $t i64)
    (local.set $b (i64.const 1))
    (block $done
      (loop $next
        (br_if $done (i64.le_s (local.get $n) (i64.const 0)))
        (local.set $t (i64.add (local.get $a) (local.get $b)))
        (local.set $a (local.get $b))
        (local.set $b (local.get $t))
        (local.set $n (i64.sub (local.get $n) (i64.const 1)))
        (br $next)))
    (local.get $a))

  (func $add (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1))))
