// expect: {"exit": 0, "result": [1, "two", null, null, {"k": 3}, "[sim sim] six", null, null], "agents": {"total": 1, "done": 1}, "failures": ["parallel[6] failed: sync throw", "parallel[7] failed: 42"]}
export const meta = { name: 'parallel-odd', description: 'thunks that return non-promises or throw synchronously' }
const r = await parallel([
  () => 1,
  () => 'two',
  () => null,
  () => undefined,
  () => ({ k: 3 }),
  () => agent('six'),
  () => { throw new Error('sync throw') },
  () => { throw 42 },
])
r[5] = r[5].split(' (#')[0]
return r
