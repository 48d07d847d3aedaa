;; An active data segment 16 bytes before 4 GiB.
(module
  (memory 1)
  (data (i32.const -16) "0123456789abcdefghijklmnopqrstuvwxyz"))
