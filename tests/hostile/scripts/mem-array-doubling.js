// expect: {"exit": 1, "message": "32 MiB", "flags": ["--memory-limit", "32"], "seconds": 10}
export const meta = { name: 'mem-array', description: 'exponential array growth' }
let a = [{ n: 1 }]
for (;;) a = a.concat(a.map((o) => ({ ...o })))
