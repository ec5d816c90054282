// expect: {"exit": 1, "error": "TimeoutError", "message": "wall-clock timeout of 1 s", "flags": ["--timeout", "1"], "seconds": 10}
export const meta = { name: 'cpu-yielding', description: 'never a long slice, never done: only the wall clock ends it' }
for (;;) await new Promise((r) => setTimeout(r, 0))
