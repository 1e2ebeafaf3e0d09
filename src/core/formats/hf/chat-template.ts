// Chat templates (tokenizer_config.json `chat_template` or chat_template.jinja) rendered with
// @huggingface/jinja, the Jinja subset the Hub's templates are written for. We pass what
// transformers' apply_chat_template passes: messages, add_generation_prompt and the special
// token strings (bos_token, eos_token, …); `raise_exception` is a built-in of the library.
import { Template } from '@huggingface/jinja';
import { NibbleError } from '../../errors.ts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | (string & {});
  content: string;
}

export interface ChatTemplateContext {
  add_generation_prompt: boolean;
  bos_token?: string;
  eos_token?: string;
  unk_token?: string;
  pad_token?: string;
}

const compiled = new Map<string, Template>(); // template source → parsed template (few distinct ones)

/** Renders `messages` through `template`; a template that fails to parse or raises is 'bad-format'. */
export function renderChatTemplate(
  template: string,
  messages: readonly ChatMessage[],
  ctx: ChatTemplateContext,
): string {
  let t = compiled.get(template);
  if (!t) {
    try {
      t = new Template(template);
    } catch (e) {
      throw new NibbleError('bad-format', `chat template does not parse: ${(e as Error).message}`);
    }
    if (compiled.size > 8) compiled.clear();
    compiled.set(template, t);
  }
  try {
    return t.render({ ...ctx, messages: messages.map((m) => ({ ...m })) });
  } catch (e) {
    throw new NibbleError('bad-format', `chat template failed: ${(e as Error).message}`);
  }
}
