// expect: {"exit": 2, "message": "the run's args do not fit in the sandbox's memory", "args_gen": ["strings", 20000, 1000], "flags": ["--memory-limit", "16"], "seconds": 20}
export const meta = { name: 'args-too-huge', description: 'args larger than the sandbox heap' }
return args.length
