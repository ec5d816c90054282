// expect: {"exit": 1, "error": "Error", "message": "species trap", "line": 5}
export const meta = { name: 'pollute-species', description: 'the promise the host watches has a throwing species' }
// When the body returns, the host attaches handlers to its promise: resolving reads the
// constructor and Symbol.species, which the script controls. That is the script's error.
const Evil = class extends Promise { static get [Symbol.species]() { throw new Error('species trap') } }
Object.defineProperty(Promise.prototype, 'constructor', { get() { return Evil } })
return 1
