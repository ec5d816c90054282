// A first workflow: three agents greet in parallel, then one agent sums up.
// Run it offline:  jshost run samples/hello.js --yes
export const meta = {
  name: 'hello',
  description: 'Three agents write greetings in parallel, then one sums them up',
  phases: [{ title: 'Greet' }, { title: 'Sum up' }],
}

phase('Greet')
const names = args?.names ?? ['Ada', 'Grace', 'Linus']
const greetings = await parallel(
  names.map((name) => () =>
    agent(`Write a one-line greeting for ${name}.`, { label: `greet ${name}`, model: 'haiku' }),
  ),
)

phase('Sum up')
const summary = await agent(
  `Sum up these greetings in one sentence:\n${greetings.filter(Boolean).join('\n')}`,
  { label: 'summary' },
)
log(`${greetings.filter(Boolean).length} of ${names.length} greetings written`)
return { greetings, summary }
