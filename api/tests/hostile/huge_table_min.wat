;; A table whose minimum is far above the table limit.
(module (table 4000000000 funcref))
