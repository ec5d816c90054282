// expect: {"exit": 0, "result": "done", "seconds": 15}
export const meta = { name: 'mem-phases', description: 'a hundred thousand distinct phases' }
for (let i = 0; i < 1e5; i++) phase('phase ' + i)
await agent('in the last phase')
return 'done'
