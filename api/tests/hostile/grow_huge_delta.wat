;; One memory.grow by 65536 pages: refused (-1), nothing committed.
(module
  (memory 1)
  (func (export "run") (result i32)
    (memory.grow (i32.const 65536))))
