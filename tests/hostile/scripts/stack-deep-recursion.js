// expect: {"exit": 1, "error": "RangeError", "message": "Maximum call stack size exceeded", "line": 3}
export const meta = { name: 'stack-recursion', description: 'unbounded recursion: a RangeError, never a segfault' }
function down(n) { return down(n + 1) + 1 }
await agent('first')
return down(0)
