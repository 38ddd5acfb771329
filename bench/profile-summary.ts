/**
 * Summarizes a V8 .cpuprofile (e.g. the gateway's, from `npm run bench -- --profile`) as markdown:
 * self time by area and by function, and our functions by inclusive time.
 *
 *   node bench/profile-summary.ts bench/results/profile-<stamp>/CPU.….cpuprofile [--top 25] [--skip-ms 0]
 */
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { profileMarkdown, summarizeProfile } from './lib/profile.ts';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, 'skip-ms': { type: 'string', default: '0' } } });
if (positionals.length === 0) {
  process.stderr.write('usage: node bench/profile-summary.ts <file.cpuprofile> [--top 25] [--skip-ms 0]\n');
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
for (const file of positionals) {
  const s = summarizeProfile(file, root, Number(values.top), Number(values['skip-ms']));
  s.file = relative(root, file);
  process.stdout.write(`${profileMarkdown(s)}\n\n`);
}
