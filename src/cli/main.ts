#!/usr/bin/env node
/** `attn <command>`: thin commands over the library. */
import { readFileSync } from 'node:fs';
import '../index.js';
import { AttnError } from '../tensor/index.js';
import { TokenizerError } from '../tokenizers/index.js';
import { UsageError, type Command } from './command.js';
import { calc } from './commands/calc.js';
import { chat } from './commands/chat.js';
import { convert } from './commands/convert.js';
import { data } from './commands/data.js';
import { demo } from './commands/demo.js';
import { evalCommand } from './commands/eval.js';
import { generateCommand } from './commands/generate.js';
import { logits } from './commands/logits.js';
import { ops } from './commands/ops.js';
import { plot } from './commands/plot.js';
import { tokenize } from './commands/tokenize.js';
import { tokenizer } from './commands/tokenizer.js';
import { train } from './commands/train.js';
import { trace } from './commands/trace.js';

const COMMANDS: Command[] = [calc, chat, convert, data, demo, evalCommand, generateCommand, logits, ops, plot, tokenize, tokenizer, trace, train];

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `attn ${version()}: a transformer language-model stack in TypeScript

Usage: attn <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run 'attn <command> --help' for a command's options.
Options: --help, --version`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return 0;
  }
  if (name === '--version' || name === '-v') {
    console.log(version());
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    console.error(`attn: unknown command '${name}'\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(cmd.usage);
    return 0;
  }
  try {
    await cmd.run(rest);
    return 0;
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`attn ${name}: ${(e as Error).message}\nRun 'attn ${name} --help' for usage.`);
      return 2;
    }
    if (e instanceof AttnError || e instanceof TokenizerError) {
      console.error(`attn ${name}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

// A closed pipe (`attn ... | head`) ends the output, not the program with a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
process.exitCode = await main(process.argv.slice(2));
