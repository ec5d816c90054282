// expect: {"exit": 2, "message": "U+202E"}
export const meta = { name: 'bytes', description: 'bad bytes in the file' }
const isAdmin = false
if (isAdmin) { /* ‮ } ⁦if (true)⁩ ⁦ */ return 'admin' }
return 'user'
