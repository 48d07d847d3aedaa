;; A memory whose minimum is the 32-bit maximum, 4 GiB.
(module (memory 65536))
