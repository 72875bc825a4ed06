import { OPTIONS, type Command, type OptionSpec } from '../core/config/options.ts';

const COMMANDS: readonly Command[] = ['backup', 'list', 'restore', 'verify'];

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** Markdown tables of every option, one per command, for README. */
export function renderOptionsMarkdown(options: readonly OptionSpec[] = OPTIONS): string {
  const out: string[] = [];
  for (const c of COMMANDS) {
    const specs = options.filter((o) => o.commands.includes(c));
    if (specs.length === 0) continue;
    out.push(`#### \`${c}\``, '', '| flag | environment | default | meaning |', '| --- | --- | --- | --- |');
    for (const o of specs) {
      out.push(
        `| ${o.flag ? `\`--${o.flag}\`` : '—'} | ${o.env ? `\`${o.env}\`` : '—'} | ${o.default !== undefined ? `\`${o.default}\`` : ''} | ${cell(o.help)} |`,
      );
    }
    out.push('');
  }
  return out.join('\n');
}
