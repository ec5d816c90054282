// expect: {"exit": 1, "error": "RangeError", "message": "array length 4097 exceeds the maximum of 4096 supported across the workflow VM boundary", "line": 4, "agents": {"total": 0}}
export const meta = { name: 'parallel-4097', description: 'one item over the VM-boundary cap' }
const thunks = Array.from({ length: 4097 }, (_, i) => () => agent('item ' + i))
const r = await parallel(thunks)
return r.length
