// expect: {"exit": 0, "result": {"refused": ["TypeError: agent() prompt contains a lone surrogate (U+D800 at index 3), which is not valid Unicode text", "TypeError: agent() option label contains a lone surrogate (U+DC00 at index 0), which is not valid Unicode text", "TypeError: agent() option model contains a lone surrogate (U+D83D at index 6), which is not valid Unicode text", "TypeError: agent() option agentType contains a lone surrogate (U+DFFF at index 1), which is not valid Unicode text", "TypeError: agent({schema}) contains a lone surrogate, which is not valid Unicode text"], "kept": "ok", "k\ud800": ["v\udc00", "\ud83d\ude00 pair stays"]}, "agents": {"done": 1, "total": 1}, "failures": ["parallel[0] failed: boom \\ud800"], "seconds": 20}
export const meta = { name: 'lone-surrogates', description: 'lone surrogates everywhere a script can put text' }
log('log \uD800 line', { k: '\uDBFF' })
phase('phase \uDC00 title')
console.warn('warn \uDFFF')
const refused = []
for (const call of [
  () => agent('bad\uD800 prompt'),
  () => agent('p', { label: '\uDC00' }),
  () => agent('p', { model: 'sonnet\uD83D' }),
  () => agent('p', { agentType: 'x\uDFFF' }),
  () => agent('p', { schema: { type: 'object', description: '\uD800' } }),
]) {
  try { await call(); refused.push('ran') } catch (e) { refused.push(e.name + ': ' + e.message) }
}
// The phase the agent inherits holds a lone surrogate: a group title is kept, not refused.
const kept = (await agent('a fine prompt', { label: 'fine' })) ? 'ok' : 'no result'
await parallel([() => { throw new Error('boom \uD800') }])
return { refused, kept, ['k\uD800']: ['v\uDC00', '\uD83D\uDE00 pair stays'] }
