// expect: {"exit": 0, "result": 40960, "seconds": 30, "failures": ["parallel[4095] failed: x"], "failure_count": 10000, "output": ["failures (1001):"]}
export const meta = { name: 'mem-failures', description: 'failure lines without end, each a slice of their own' }
// Ten parallel() calls of 4096 failing thunks: the host keeps a bounded number of these
// lines in memory (the store keeps up to its own limit, and counts the rest).
const msg = 'x'.repeat(1000)
let nulls = 0
for (let k = 0; k < 10; k++) {
  const r = await parallel(Array.from({ length: 4096 }, () => () => { throw new Error(msg) }))
  nulls += r.filter((v) => v === null).length
}
return nulls
