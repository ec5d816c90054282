// expect: {"exit": 2, "message": "meta must be a pure literal: reserved key name not allowed in meta: __proto__"}
export const meta = { name: 'meta-proto', description: 'd', __proto__: { polluted: true } }
return 1
