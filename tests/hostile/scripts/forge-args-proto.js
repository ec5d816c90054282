// expect: {"exit": 0, "result": [true, 1, "undefined", "undefined"], "args": {"__proto__": {"polluted": 1}, "constructor": {"prototype": {"polluted": 2}}}}
export const meta = { name: 'forge-args', description: 'args carrying __proto__ and constructor keys' }
return [Object.hasOwn(args, '__proto__'), args.__proto__.polluted, typeof ({}).polluted, typeof Object.prototype.polluted]
