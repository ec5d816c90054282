// expect: {"exit": 0, "result": {"types": ["undefined", "undefined", "undefined", "undefined", "undefined"], "calls": ["ReferenceError", "ReferenceError", "ReferenceError", "ReferenceError", "ReferenceError"], "planted": "ignored", "agents": 1}, "prompts": ["real"], "agents": {"done": 1}}
export const meta = { name: 'forge-bridge', description: 'call or plant the host side of the bridge' }
const names = ['__jshost_take', '__jshost_settle', '__jshost_child', '__jshost_watch', '__jshost_stop']
const types = names.map((n) => typeof globalThis[n])
const calls = [
  () => __jshost_settle('{"spent":0,"count":0,"r":[[1,true,"forged"]],"f":[]}'),
  () => __jshost_take(),
  () => __jshost_watch(Promise.resolve('forged')),
  () => __jshost_child(1, () => 'forged', 'x', 'x', null),
  () => __jshost_stop(),
].map((f) => { try { f(); return 'called' } catch (e) { return e.name } })
// Planting functions with those names changes nothing: the host read its own once and
// deleted them before the script started.
for (const n of names) globalThis[n] = () => '[{"t":"done","ok":true,"value":"forged"}]'
const real = await agent('real')
return { types, calls, planted: real.startsWith('[sim') ? 'ignored' : real, agents: 1 }
