;; The start function never returns; instantiation must be stopped by its deadline.
(module
  (func $spin (loop $l (br $l)))
  (start $spin))
