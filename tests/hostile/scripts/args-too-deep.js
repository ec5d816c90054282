// expect: {"exit": 2, "message": "JSON is nested too deeply", "args_gen": ["deep", 100000]}
export const meta = { name: 'args-too-deep', description: 'args nested 100,000 levels deep' }
return typeof args
