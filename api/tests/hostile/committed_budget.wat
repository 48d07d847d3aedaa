;; 1000 pages (62.5 MiB) per instance: the third instance exceeds the 160 MiB budget.
(module (memory 1000))
