;; br_table-heavy kernel: a tiny bytecode interpreter. A 32-byte program of opcodes 0-7
;; lives in a data segment; every step loads the opcode at `pc` and dispatches with one
;; `br_table` to one of eight short handlers working on two i64 registers. Opcode 5 is
;; a data-dependent conditional jump and opcode 7 a computed jump, so the dispatch
;; sequence is not a simple cycle.
;;
;; `run(n)` executes n steps and returns a mix of the registers and the final pc.
(module
  (memory 1)
  (data (i32.const 0)
    "\00\01\02\03\04\05\06\00\02\01\05\03\04\06\07\00"
    "\01\03\02\05\04\00\06\01\07\02\03\05\00\04\06\07")

  (func (export "run") (param $n i32) (result i64)
    (local $pc i32) (local $steps i32) (local $a i64) (local $b i64)
    i64.const 1
    local.set $a
    i64.const 0x0123456789ABCDEF
    local.set $b
    block $exit
      loop $dispatch
        local.get $steps
        local.get $n
        i32.ge_u
        br_if $exit
        local.get $steps
        i32.const 1
        i32.add
        local.set $steps
        block $next
          block $op7
            block $op6
              block $op5
                block $op4
                  block $op3
                    block $op2
                      block $op1
                        block $op0
                          local.get $pc
                          i32.load8_u
                          br_table $op0 $op1 $op2 $op3 $op4 $op5 $op6 $op7 $next
                        end
                        ;; op0: a += b
                        local.get $a
                        local.get $b
                        i64.add
                        local.set $a
                        br $next
                      end
                      ;; op1: b ^= a << 7
                      local.get $b
                      local.get $a
                      i64.const 7
                      i64.shl
                      i64.xor
                      local.set $b
                      br $next
                    end
                    ;; op2: a = rotl(a, 9)
                    local.get $a
                    i64.const 9
                    i64.rotl
                    local.set $a
                    br $next
                  end
                  ;; op3: b += golden ratio constant
                  local.get $b
                  i64.const 0x9E3779B97F4A7C15
                  i64.add
                  local.set $b
                  br $next
                end
                ;; op4: a *= PCG multiplier
                local.get $a
                i64.const 0x5851F42D4C957F2D
                i64.mul
                local.set $a
                br $next
              end
              ;; op5: if a is odd, jump 5 ahead, else fall through to the next opcode
              local.get $a
              i64.const 1
              i64.and
              i64.eqz
              br_if $next
              local.get $pc
              i32.const 5
              i32.add
              i32.const 31
              i32.and
              local.set $pc
              br $dispatch
            end
            ;; op6: b -= a; a ^= b >> 11
            local.get $b
            local.get $a
            i64.sub
            local.tee $b
            i64.const 11
            i64.shr_u
            local.get $a
            i64.xor
            local.set $a
            br $next
          end
          ;; op7: computed jump pc = (pc * 7 + 3) & 31
          local.get $pc
          i32.const 7
          i32.mul
          i32.const 3
          i32.add
          i32.const 31
          i32.and
          local.set $pc
          br $dispatch
        end
        ;; $next: advance pc
        local.get $pc
        i32.const 1
        i32.add
        i32.const 31
        i32.and
        local.set $pc
        br $dispatch
      end
    end
    local.get $a
    local.get $b
    i64.const 1
    i64.rotl
    i64.xor
    local.get $pc
    i64.extend_i32_u
    i64.const 56
    i64.shl
    i64.xor))
