// expect: {"exit": 1, "message": "32 MiB", "flags": ["--memory-limit", "32"], "seconds": 10}
export const meta = { name: 'mem-string', description: 'exponential string growth' }
let s = 'x'
for (;;) s = [s, s].join('')
