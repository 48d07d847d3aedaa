;; Unbounded recursion: stopped by the call-depth limit.
(module
  (func $f (export "run") (param i32) (result i32)
    (call $f (i32.add (local.get 0) (i32.const 1)))))
