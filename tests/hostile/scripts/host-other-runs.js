// expect: {"exit": 0, "victim": true, "args": {"store": "$STORE"}, "prompts": ["what do you know about other runs?"], "agents": {"total": 1, "done": 1}}
export const meta = { name: 'host-other-runs', description: 'look for what an earlier run in the same store left behind' }
const found = []
const tries = [
  () => workflow({ scriptPath: args.store + '/jshost.db' }),
  () => workflow({ scriptPath: args.store + '/jshost.db-wal' }),
  () => workflow('victim'),
]
for (const t of tries) { try { found.push(String(await t())) } catch (e) { found.push(e.message) } }
found.push(await agent('what do you know about other runs?'))
found.push(JSON.stringify(Object.getOwnPropertyNames(globalThis)))
log(found.join('\n'))
return found
