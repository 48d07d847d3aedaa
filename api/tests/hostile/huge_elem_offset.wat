;; An active element segment at offset 2^32 - 1.
(module
  (table 1 funcref)
  (func $f)
  (elem (i32.const -1) $f $f))
