// expect: {"exit": 2, "message": "meta must be a pure literal: non-literal node type in meta: CallExpression"}
export const meta = { name: 'call', description: String(Object.keys(globalThis)) }
return 1
