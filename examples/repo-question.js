export const meta = {
  name: 'repo-question',
  title: 'Ask a repository',
  description:
    'Answer a question about the files in the workspace: one agent per area searches it with Grep/Glob and reads what it finds, in parallel; a last agent writes the answer from their quotes. args: {"question": "...", "areas": ["jshost/engine", "docs", ...]}',
  whenToUse:
    'With the anthropic worker, whose agents can read the workspace (the default rules allow Read, Grep and Glob inside it). Every finding cites path:line and quotes the line.',
  phases: [
    { title: 'Search', detail: 'one reader per area, in parallel' },
    { title: 'Answer', detail: 'from the quotes alone' },
  ],
}

const input = typeof args === 'string' ? { question: args } : args || {}
const question = typeof input.question === 'string' ? input.question.trim() : ''
if (!question) {
  throw new Error(
    'repo-question needs a question: --args \'{"question": "where is the cache key computed?", "areas": ["jshost"]}\'',
  )
}
const areas =
  Array.isArray(input.areas) && input.areas.length
    ? input.areas.filter((a) => typeof a === 'string').slice(0, 16)
    : ['.']

const FINDINGS = {
  type: 'object',
  required: ['findings'],
  additionalProperties: false,
  properties: {
    findings: {
      type: 'array',
      maxItems: 10,
      items: {
        type: 'object',
        required: ['path', 'line', 'quote', 'why'],
        additionalProperties: false,
        properties: {
          path: { type: 'string' },
          line: { type: 'integer', minimum: 1 },
          quote: { type: 'string' },
          why: { type: 'string' },
        },
      },
    },
  },
}

phase('Search')
const reports = await parallel(
  areas.map((area) => () =>
    agent(
      `Question about this repository: ${question}\n\n` +
        `Search only under \`${area}\` (relative to the workspace). Use Grep and Glob to find ` +
        'candidate places, then Read the lines around each hit. Report only what the files ' +
        'show: for each finding its path (relative to the workspace), the line number, the ' +
        'line quoted exactly as it is in the file, and why it answers the question. No ' +
        'findings is a fine answer when the area has none.',
      { label: `search ${area}`, schema: FINDINGS, model: 'haiku' },
    ),
  ),
)

const findings = reports.flatMap((r, i) =>
  r ? r.findings.map((f) => ({ ...f, area: areas[i] })) : [],
)
log(`${findings.length} finding(s) from ${reports.filter(Boolean).length}/${areas.length} areas`)
if (!findings.length) return { question, answer: 'Nothing in the searched areas answers it.', findings }

phase('Answer')
const answer = await agent(
  `Question: ${question}\n\nFindings from the repository (path:line, the quoted line, why):\n` +
    findings.map((f) => `- ${f.path}:${f.line}: ${JSON.stringify(f.quote)} (${f.why})`).join('\n') +
    '\n\nAnswer the question in a short paragraph from these findings alone, citing path:line.',
  { label: 'answer' },
)
return { question, answer, findings }
