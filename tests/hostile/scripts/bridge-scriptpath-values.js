// expect: {"exit": 0, "result": ["Error: not a workflow script", "TypeError: contains control characters", "TypeError: contains a lone surrogate (U+D800 at index 1), which is not valid Unicode text", "RangeError: is 100,003 characters long; the limit is 4,096", "TypeError: name contains a lone surrogate (U+DFFF at index 0), which is not valid Unicode text", "RangeError: name is 100,000 characters long; the limit is 10,000", "Error: not a workflow script", "Error: not a workflow script"], "setup": ["links"], "args": {"side": "$SIDE"}, "seconds": 20}
export const meta = { name: 'scriptpath-values', description: 'workflow() refs the host cannot take: each call rejects, the script carries on' }
const refs = [
  { scriptPath: '~nosuchuser/x.js' },
  { scriptPath: 'a\u0000b.js' },
  { scriptPath: 'a\uD800.js' },
  { scriptPath: 'x'.repeat(100000) + '.js' },
  '\uDFFF',
  'n'.repeat(100000),
  // .js links to a file of the kernel's and to a secret: refused unread, with nothing to measure
  { scriptPath: args.side + '/env.js' },
  { scriptPath: args.side + '/secret.js' },
]
const out = []
for (const ref of refs) {
  try { await workflow(ref); out.push('ran') } catch (e) {
    // Keep the part that names the refusal: the path or name is the caller's own.
    out.push(e.name + ': ' + e.message.replace(/^workflow\(.*?\)(: | )/, '').replace(/^'[^']*' is /, ''))
  }
}
return out
