// expect: {"exit": 2, "message": "script is not valid UTF-8: byte 0xff cannot be decoded"}
export const meta = { name: 'bytes', description: 'bad bytes in the file' }
const s = 'ÿþ'
return s
