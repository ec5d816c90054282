export const meta = {
  name: 'code-review',
  title: 'Code review',
  description:
    'Review code from several angles in parallel, verify each finding, and rank what is left. args: {"target": "path, module or change to review", "diff": "optional patch text", "focus": ["correctness", "security", ...]} or just the target as a string.',
  whenToUse:
    'Before merging a change, or to audit a module. Reviewers read the files when they have tools (Read, Grep, Glob); otherwise pass the code or the diff in args.',
  phases: [
    { title: 'Survey', detail: 'what the code does and where to look' },
    { title: 'Review', detail: 'one reviewer per focus, in parallel' },
    { title: 'Verify', detail: 'each finding checked by a second agent' },
    { title: 'Report', detail: 'confirmed findings, most severe first' },
  ],
}

// args: a string (the target) or {target, diff?, focus?: [names], max_findings?: number}.
const FOCUS = {
  correctness: 'logic errors, wrong edge cases, off-by-one, broken error handling, races',
  security: 'injection, unchecked input, secrets, unsafe file or network use, privilege',
  performance: 'needless work, quadratic loops, unbounded memory or waiting, blocking calls',
  maintainability: 'unclear names, duplication, dead code, missing or misleading comments',
  tests: 'behaviour without a test, tests that cannot fail, missing edge cases',
}
const input = typeof args === 'string' ? { target: args } : args || {}
const target = typeof input.target === 'string' ? input.target.trim() : ''
const diff = typeof input.diff === 'string' ? input.diff : ''
if (!target && !diff) {
  throw new Error(
    'code-review needs something to review: --args \'{"target": "src/parser.py"}\' or ' +
      '\'{"diff": "<patch text>"}\' (optional: "focus": [' +
      Object.keys(FOCUS).map((k) => `"${k}"`).join(', ') + '])',
  )
}
const asked = Array.isArray(input.focus) ? input.focus.filter((f) => typeof f === 'string') : []
const unknown = asked.filter((f) => !(f in FOCUS))
if (unknown.length) {
  throw new Error(`unknown focus ${unknown.join(', ')}; known: ${Object.keys(FOCUS).join(', ')}`)
}
const focus = asked.length ? asked : Object.keys(FOCUS)
const maxFindings = Math.max(1, Math.floor(Number(input.max_findings) || 20))

const subject =
  (target ? `What to review: ${target}\n` : '') +
  (diff ? `The change, as a patch:\n\`\`\`diff\n${diff}\n\`\`\`\n` : '')
const TOOLS_NOTE =
  'If you have tools to read the workspace (Read, Grep, Glob), read the code itself and cite ' +
  'path:line; otherwise work only from the text given here and do not invent code.'

phase('Survey')
const survey = await agent(
  `You prepare a code review.\n\n${subject}\n${TOOLS_NOTE}\n\n` +
    'Say in a few sentences what this code does, then list the places most worth a ' +
    "reviewer's time (files, functions, or hunks of the patch) and why.",
  {
    label: 'survey',
    schema: {
      type: 'object',
      required: ['purpose', 'hotspots'],
      properties: {
        purpose: { type: 'string' },
        hotspots: {
          type: 'array',
          items: {
            type: 'object',
            required: ['where', 'why'],
            properties: { where: { type: 'string' }, why: { type: 'string' } },
          },
        },
      },
    },
  },
)
const context = survey
  ? `What the code does: ${survey.purpose}\nWhere to look first:\n` +
    survey.hotspots.map((h) => `- ${h.where}: ${h.why}`).join('\n')
  : 'No survey is available; find your own way in.'

const FINDINGS = {
  type: 'object',
  required: ['findings'],
  properties: {
    findings: {
      type: 'array',
      items: {
        type: 'object',
        required: ['where', 'problem', 'severity', 'fix'],
        properties: {
          where: { type: 'string' },
          problem: { type: 'string' },
          severity: { enum: ['critical', 'major', 'minor'] },
          fix: { type: 'string' },
        },
      },
    },
  },
}

phase('Review')
const reviews = await parallel(
  focus.map((f) => () =>
    agent(
      `You review code for ${f} only: ${FOCUS[f]}.\n\n${subject}\n${context}\n\n${TOOLS_NOTE}\n\n` +
        'Report only real problems you can point at, each with where it is, what goes ' +
        'wrong, how bad it is, and the fix. An empty list is a fine answer.',
      { label: `review-${f}`, schema: FINDINGS },
    ),
  ),
)
const candidates = []
reviews.forEach((r, i) => {
  if (r === null) log(`the ${focus[i]} review failed and is left out`)
  else for (const finding of r.findings) candidates.push({ focus: focus[i], ...finding })
})
log(`${candidates.length} candidate finding(s)`)

phase('Verify')
const RANK = { critical: 0, major: 1, minor: 2 }
const considered = candidates.slice(0, 50)
const checked = await pipeline(
  considered,
  (c, _item, i) =>
    agent(
      `A reviewer reported this ${c.focus} problem:\n${JSON.stringify(c, null, 1)}\n\n` +
        `${subject}\n${TOOLS_NOTE}\n\nCheck it against the code. Is it real? Is the ` +
        'severity right? Reject it if the code does not do what the report says.',
      {
        label: `verify-${i + 1}`,
        schema: {
          type: 'object',
          required: ['real', 'severity', 'reason'],
          properties: {
            real: { type: 'boolean' },
            severity: { enum: ['critical', 'major', 'minor'] },
            reason: { type: 'string' },
          },
        },
      },
    ),
  (verdict, c) => (verdict.real ? { ...c, severity: verdict.severity, verified: verdict.reason } : null),
)
const confirmed = checked
  .filter((c) => c !== null)
  .sort((a, b) => RANK[a.severity] - RANK[b.severity])
  .slice(0, maxFindings)

phase('Report')
const summary = await agent(
  `Summarise a code review for the author.\n\n${subject}\n` +
    `Confirmed findings, most severe first (JSON):\n${JSON.stringify(confirmed, null, 1)}\n\n` +
    'Write a short verdict (merge, merge after fixes, or rework) with the reason, then the ' +
    'findings as a list with their fixes. Plain Markdown, no preamble.',
  { label: 'summary' },
)

return {
  target: target || '(patch)',
  verdict: summary,
  findings: confirmed,
  rejected: considered.length - checked.filter((c) => c !== null).length,
  not_checked: candidates.length - considered.length,
}
