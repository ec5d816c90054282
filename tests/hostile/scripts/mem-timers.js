// expect: {"exit": 0, "result": 100000, "seconds": 30}
export const meta = { name: 'mem-timers', description: '100,000 setTimeouts' }
let fired = 0
const all = []
for (let i = 0; i < 1e5; i++) all.push(new Promise((r) => setTimeout(() => { fired++; r() }, i % 7)))
await Promise.all(all)
return fired
