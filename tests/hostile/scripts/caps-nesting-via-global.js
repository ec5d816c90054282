// expect: {"exit": 0, "result": ["workflow() cannot be called from within a child workflow — nesting is limited to one level. Inline the inner script or call its agents directly.", "workflow() cannot be called from within a child workflow — nesting is limited to one level. Inline the inner script or call its agents directly.", "workflow() cannot be called from within a child workflow — nesting is limited to one level. Inline the inner script or call its agents directly.", "workflow() must be called from the workflow script's own code, not passed as a callback", "workflow() cannot be called from within a child workflow — nesting is limited to one level. Inline the inner script or call its agents directly."], "seconds": 20}
export const meta = { name: 'nesting-via-global', description: 'a child reaches the parent globalThis.workflow (and other routes) to nest deeper' }
const self = { scriptPath: 'caps-nesting-via-global.js' }
if (args && args.child) {
  // In the child: every route to a working workflow() must be refused by the host.
  const out = []
  const g = globalThis.workflow
  Error.stackTraceLimit = 0
  for (const attempt of [
    () => globalThis.workflow(self, { child: true }),
    () => g(self, { child: true }),
    async () => { await null; return g(self, { child: true }) },
    () => Promise.resolve(self).then(g),
    () => [self].map((ref) => g(ref, { child: true }))[0],
  ]) {
    try { await attempt(); out.push('nested') } catch (e) { out.push(e.message) }
  }
  return out
}
return await workflow(self, { child: true })
