;; A small module instantiated (and kept open) until the live-instance limit.
(module
  (memory 1)
  (func (export "run") (result i32) (i32.const 1)))
