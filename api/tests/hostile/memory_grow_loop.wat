;; Declares the maximal memory (65536 pages) and grows it one page at a time until
;; memory.grow fails; returns the final size (the runtime's page limit).
(module
  (memory 1 65536)
  (func (export "run") (result i32)
    (block $done
      (loop $l
        (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
        (br $l)))
    (memory.size)))
