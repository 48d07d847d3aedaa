;; Grows an unbounded table by 1000 elements until table.grow fails; returns its size.
(module
  (table 0 funcref)
  (func (export "run") (result i32)
    (block $done
      (loop $l
        (br_if $done
          (i32.eq (table.grow (ref.null func) (i32.const 1000)) (i32.const -1)))
        (br $l)))
    (table.size)))
