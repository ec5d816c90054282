// expect: {"exit": 0, "result": []}
export const meta = { name: 'host-globals', description: 'anything of the host within reach by name?' }
const names = ['require', 'process', 'module', 'exports', 'Buffer', 'fetch', 'XMLHttpRequest', 'WebSocket',
  'std', 'os', 'print', 'scriptArgs', 'Deno', 'Bun', 'WebAssembly', 'SharedArrayBuffer', 'Atomics',
  'WeakRef', 'FinalizationRegistry', 'performance', 'queueMicrotask', 'setInterval', 'setImmediate',
  'crypto', 'structuredClone', 'navigator', 'ShadowRealm', 'gc', '__dirname', '__filename', 'importScripts']
const reachable = names.filter((n) => typeof globalThis[n] !== 'undefined')
// Nothing unexpected hangs off the global object either.
const own = Object.getOwnPropertyNames(globalThis).filter((n) => n.startsWith('__') || /^[a-z]/.test(n) &&
  !['agent', 'parallel', 'pipeline', 'phase', 'log', 'console', 'workflow', 'budget', 'setTimeout',
    'clearTimeout', 'args', 'globalThis', 'undefined', 'eval', 'isFinite', 'isNaN', 'parseFloat', 'parseInt',
    'decodeURI', 'decodeURIComponent', 'encodeURI', 'encodeURIComponent', 'escape', 'unescape'].includes(n))
return [...reachable, ...own]
