// expect: {"exit": 1, "error": "TimeoutError", "message": "Script execution timed out after 500ms", "flags": ["--cpu-limit", "0.5"], "seconds": 10}
export const meta = { name: 'cpu-microtasks', description: 'an endless chain of microtasks never yields to the host' }
Promise.resolve().then(function loop() { return Promise.resolve().then(loop) })
await agent('never answered in time')
