// expect: {"exit": 0, "result": ["ok", "ok", "WorkflowAgentCapError", "WorkflowAgentCapError", "WorkflowAgentCapError"], "agents": {"total": 2, "done": 2}, "flags": ["--max-agents", "2"]}
export const meta = { name: 'pollute-promise', description: 'a fake Promise and Promise.all cannot raise the agent cap' }
const RealPromise = Promise
globalThis.Promise = class extends RealPromise {
  static all() { return RealPromise.resolve(['forged']) }
  static allSettled() { return RealPromise.resolve([{ status: 'fulfilled', value: 'forged' }]) }
  static resolve(v) { return RealPromise.resolve(v) }
}
RealPromise.resolve = (v) => new RealPromise((r) => r(v))
const got = []
for (let i = 0; i < 5; i++) {
  try { await agent('call ' + i); got.push('ok') } catch (e) { got.push(e.name) }
}
return got
