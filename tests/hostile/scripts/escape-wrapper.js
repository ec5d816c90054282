// expect: {"exit": 2, "message": "SyntaxError: unbalanced '}': the script closes its own function body early"}
export const meta = { name: 'escape', description: 'close the wrapper function and run at the top level' }
}); globalThis.escaped = (function () { return this })(); (async function () {
