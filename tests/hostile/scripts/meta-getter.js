// expect: {"exit": 2, "message": "meta must be a pure literal: methods/accessors not allowed in meta"}
export const meta = { get name() { return globalThis.constructor.name }, description: 'd' }
return 1
