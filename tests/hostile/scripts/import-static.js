// expect: {"exit": 2, "message": "import declarations are not available in workflow scripts"}
export const meta = { name: 'import-static', description: 'a module import of the host' }
import * as std from 'std'
return std.loadFile('/etc/passwd')
