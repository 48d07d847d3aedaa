-- Benchmark workload: SIZE rounds of recursion, table building and sorting, string
-- formatting and pattern matching, objects with metatables, closures and a float loop.
-- Returns a checksum that depends on every part (and not on hash-table order).
local SIZE = ...
math.randomseed(42)

local function mix(h, v) return (h * 31 + v) & 0xffffffff end

local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end

local Vec = {}
Vec.__index = Vec
function Vec.new(x, y) return setmetatable({x = x, y = y}, Vec) end
function Vec.__add(a, b) return Vec.new(a.x + b.x, a.y + b.y) end
function Vec:scale(k) return Vec.new(self.x * k, self.y * k) end
function Vec:dot(o) return self.x * o.x + self.y * o.y end

local function counter()
  local c = 0
  return function(d) c = c + d; return c end
end

local acc = 0
for round = 1, SIZE do
  acc = mix(acc, fib(16))

  local t = {}
  for i = 1, 300 do t[i] = (i * 7919 + round * 104729 + math.random(1000)) % 10007 end
  table.sort(t, function(a, b) return a > b end)
  for i = 1, #t, 13 do acc = mix(acc, t[i]) end

  local parts = {}
  for i = 1, 60 do parts[#parts + 1] = string.format("%d:%x:%s", i * round, i + round, ("ab"):rep(i % 5)) end
  local s = table.concat(parts, ",")
  local words = 0
  for w in s:gmatch("%x+") do words = words + #w end
  local replaced, n = s:gsub("(%d)(%d)", "%2%1")
  acc = mix(acc, #s + words + n + replaced:byte(#replaced // 2))
  acc = mix(acc, utf8.len("h\u{e9}llo w\u{f6}rld " .. round))

  local v = Vec.new(0, 0)
  for i = 1, 200 do v = v + Vec.new(i, -i):scale(0.5) end
  acc = mix(acc, math.floor(v:dot(Vec.new(1.5, 0.25))))

  local c = counter()
  for i = 1, 500 do c(i % 7) end
  acc = mix(acc, c(0))

  local x, y, vx, vy = 0.0, 1.0, 0.8, 0.0
  for _ = 1, 400 do
    local r = math.sqrt(x * x + y * y)
    local r3 = r * r * r
    vx = vx - x / r3 * 0.01
    vy = vy - y / r3 * 0.01
    x = x + vx * 0.01
    y = y + vy * 0.01
  end
  acc = mix(acc, math.floor(x * 1e9) ~ math.floor(y * 1e9))
end
return acc
