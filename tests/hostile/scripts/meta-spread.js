// expect: {"exit": 2, "message": "meta must be a pure literal: only plain properties allowed in meta"}
export const meta = { ...{ name: 'spread', description: 'd' } }
return 1
