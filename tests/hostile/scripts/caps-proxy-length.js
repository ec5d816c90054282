// expect: {"exit": 0, "result": ["RangeError: array length 10000 exceeds the maximum of 4096 supported across the workflow VM boundary", "RangeError: array length 10000 exceeds the maximum of 4096 supported across the workflow VM boundary", "parallel ran 1 item", "pipeline ran 1 item"], "agents": {"done": 2, "total": 2}, "seconds": 30}
export const meta = { name: 'proxy-length', description: 'a Proxy whose length grows after the prelude checks it' }
// Reports length 1 for the first `small` reads, then 10000.
const grow = (base, small) => {
  let reads = 0
  return new Proxy(base, { get(t, k, r) { if (k === 'length') return ++reads > small ? 10000 : 1; return Reflect.get(t, k, r) } })
}
const thunks = Array.from({ length: 10000 }, (_, i) => () => agent('item ' + i))
const items = thunks.map((_, i) => 'item ' + i)
const out = []
for (const [what, run] of [
  ['parallel', () => parallel(grow(thunks, 0))],
  ['pipeline', () => pipeline(grow(items, 0), (x) => agent(x))],
  ['parallel', () => parallel(grow(thunks, 1))],
  ['pipeline', () => pipeline(grow(items, 1), (x) => agent(x))],
]) {
  try { const r = await run(); out.push(what + ' ran ' + r.length + ' item' + (r.length === 1 ? '' : 's')) } catch (e) { out.push(e.name + ': ' + e.message) }
}
return out
