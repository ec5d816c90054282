// expect: {"exit": 0, "result": "returned", "agents": {"total": 2, "failed": 1}, "failures": ["[boom] failed: rejected on purpose"]}
export const meta = { name: 'unhandled', description: 'rejections nobody awaits' }
agent('[[sim:throw=rejected on purpose]]', { label: 'boom' })
Promise.reject(new Error('plain rejection'))
;(async () => { throw new Error('async rejection') })()
await agent('awaited')
return 'returned'
