// expect: {"exit": 1, "error": "RangeError", "message": "the workflow result is nested more than 256 levels deep"}
export const meta = { name: 'stack-result', description: 'a result nested 5000 levels deep' }
// Deep enough for the host's recursive JSON code to fail on, shallow enough for QuickJS.
let x = []
for (let i = 0; i < 5000; i++) x = [x]
return x
