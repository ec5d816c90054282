// expect: {"exit": 0, "result": 900, "args_gen": ["deep", 900]}
export const meta = { name: 'args-deep', description: 'args nested 900 levels deep' }
let depth = 0
for (let a = args; Array.isArray(a); a = a[0]) depth++
return depth
