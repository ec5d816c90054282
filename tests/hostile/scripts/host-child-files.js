// expect: {"exit": 0, "result": ["only .js files are workflows, not 'zero'", "only .js files are workflows, not 'passwd'", "only .js files are workflows, not 'environ'", "only .js files are workflows, not 'jshost.db'", "is not a workflow script", "no such file", "is a directory, not a workflow script"], "setup": ["fifo", "dir"], "args": {"side": "$SIDE", "store": "$STORE"}, "seconds": 10}
export const meta = { name: 'host-files', description: 'workflow({scriptPath}) at devices, pipes, secrets and the store' }
const paths = ['/dev/zero', '/etc/passwd', '/proc/self/environ', args.store + '/jshost.db',
  args.side + '/pipe.js', args.side + '/missing.js', args.side + '/dir.js']
const out = []
for (const p of paths) {
  try { await workflow({ scriptPath: p }); out.push('ran') } catch (e) { out.push(e.message) }
}
// Keep the part that names the refusal; the path is the caller's own.
return out.map((m) => m.replace(/^workflow\(\{scriptPath: '[^']*'\}\): /, '').replace(/^'[^']*' /, '').replace(/: '.*'$/, ''))
