// expect: {"exit": 0, "result": [20000, 1000], "args_gen": ["strings", 20000, 1000], "seconds": 20}
export const meta = { name: 'args-huge', description: '20 MB of args' }
return [args.length, args[0].length]
