/**
 * Chat templates: the Jinja template in a model's tokenizer_config.json (`chat_template`) that turns
 * a list of messages into the prompt text the model was trained on, rendered with
 * `@huggingface/jinja` (the JavaScript Jinja that transformers.js uses) the way transformers'
 * `apply_chat_template` renders it: trim_blocks and lstrip_blocks on, the variables `messages`,
 * `add_generation_prompt`, the special tokens of the config (`bos_token`, `eos_token`, ...) as
 * strings, `tools` and `documents` when given; `raise_exception(msg)` in a template becomes a
 * TokenizerError with its message. A config may hold
 * several named templates (`[{name, template}]`): 'default' is used, or 'tool_use' when tools are
 * passed and the config has one, or the one named in the options.
 */
import { Template } from '@huggingface/jinja';
import { TokenizerError } from './errors.js';
import type { HfTokenizer } from './tokenizer-json.js';

export interface ChatMessage {
  role: string;
  content: string;
  [key: string]: unknown;
}

export interface ChatTemplateOptions {
  /** Append the text that starts the assistant's turn (`add_generation_prompt`). */
  addGenerationPrompt?: boolean;
  /** Which named template (configs with several); default 'default', or 'tool_use' with tools. */
  templateName?: string;
  tools?: unknown[];
  documents?: unknown[];
  /** More template variables (e.g. `date_string`), as transformers' **kwargs. */
  variables?: Record<string, unknown>;
}

/** The parts of a tokenizer_config.json a chat template needs. */
export interface TokenizerConfig {
  chat_template?: string | { name: string; template: string }[] | null;
  [key: string]: unknown;
}

const SPECIAL_TOKEN_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'];

/** A special token as a string: tokenizer_config.json writes it as a string or an AddedToken dict. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

export class ChatTemplate {
  private readonly templates = new Map<string, string>();
  private readonly compiled = new Map<string, Template>();
  private readonly specials: Record<string, string> = {};

  /** From the parsed tokenizer_config.json. */
  constructor(config: TokenizerConfig, private readonly source = 'tokenizer_config.json') {
    const t = config.chat_template;
    if (typeof t === 'string') this.templates.set('default', t);
    else if (Array.isArray(t)) {
      for (const entry of t) {
        if (typeof entry?.name !== 'string' || typeof entry?.template !== 'string') throw new TokenizerError('chat template', `${source}: chat_template entries must be {"name": ..., "template": ...}, got ${JSON.stringify(entry).slice(0, 100)}`);
        this.templates.set(entry.name, entry.template);
      }
    } else throw new TokenizerError('chat template', `${source} has no chat_template (this model has no chat format; pass a template string instead)`);
    for (const key of SPECIAL_TOKEN_KEYS) {
      const text = tokenText(config[key]);
      if (text !== undefined) this.specials[key] = text;
    }
  }

  /** A template given directly as a string (special tokens as variables). */
  static fromString(template: string, specialTokens: Record<string, string> = {}): ChatTemplate {
    return new ChatTemplate({ chat_template: template, ...specialTokens }, 'template');
  }

  /** The config's special tokens as strings (bos_token, eos_token, ...), the template's variables. */
  get specialTokens(): Readonly<Record<string, string>> {
    return this.specials;
  }

  get names(): string[] {
    return [...this.templates.keys()];
  }

  private template(options: ChatTemplateOptions): Template {
    let name = options.templateName;
    if (name === undefined) name = options.tools && this.templates.has('tool_use') ? 'tool_use' : 'default';
    const source = this.templates.get(name);
    if (source === undefined) throw new TokenizerError('chat template', `${this.source} has no chat template named '${name}' (it has: ${this.names.join(', ')})`);
    let t = this.compiled.get(name);
    if (!t) {
      try {
        t = new Template(source);
      } catch (e) {
        throw new TokenizerError('chat template', `${this.source}: template '${name}' does not parse: ${(e as Error).message}`);
      }
      this.compiled.set(name, t);
    }
    return t;
  }

  /** The prompt text of `messages`. */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    if (!Array.isArray(messages)) throw new TokenizerError('chat template', `messages must be an array of {role, content}, got ${typeof messages}`);
    messages.forEach((m, i) => {
      if (typeof m?.role !== 'string') throw new TokenizerError('chat template', `message ${i} has no string 'role'`);
    });
    const template = this.template(options);
    const variables: Record<string, unknown> = {
      ...this.specials,
      ...options.variables,
      messages,
      add_generation_prompt: options.addGenerationPrompt ?? false,
    };
    if (options.tools !== undefined) variables.tools = options.tools;
    if (options.documents !== undefined) variables.documents = options.documents;
    try {
      return template.render(variables);
    } catch (e) {
      // The template's own raise_exception(msg) (defined by @huggingface/jinja) lands here too.
      throw new TokenizerError('chat template', `${this.source}: ${(e as Error).message}`);
    }
  }

  /**
   * The ids of the prompt: the rendered text encoded without the post-processor's tokens (the
   * template already wrote them), added tokens such as <|im_start|> recognised, as transformers'
   * apply_chat_template(tokenize=True) does.
   */
  encodeChat(tokenizer: HfTokenizer, messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): number[] {
    return tokenizer.encode(this.applyChatTemplate(messages, options), { addSpecialTokens: false, truncate: false, pad: false });
  }
}

/** Renders `messages` with a tokenizer_config.json's chat template (or a template string). */
export function applyChatTemplate(config: TokenizerConfig | string, messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
  const template = typeof config === 'string' ? ChatTemplate.fromString(config) : new ChatTemplate(config);
  return template.applyChatTemplate(messages, options);
}
