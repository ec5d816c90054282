// expect: {"exit": 2, "message": "SyntaxError: unbalanced '}': the script closes its own function body early", "seconds": 5}
export const meta = { name: 'escape-slow', description: 'an escape the first parser cannot read, with a slow payload' }
}); String.raw`\unicode`; const s = 'x'.repeat(2 ** 25); for (let i = 0; i < 2000; i++) s.indexOf('y'); (async function () {
