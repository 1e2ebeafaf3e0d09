// Chat templates (tokenizer_config.json `chat_template` or chat_template.jinja) rendered with
// @huggingface/jinja, the Jinja subset the Hub's templates are written for. We pass what
// transformers' apply_chat_template passes: messages, add_generation_prompt and the special
// token strings (bos_token, eos_token, …); `raise_exception` is a built-in of the library.
//
// A template is a program a model file carries: it is rendered under limits — its size, every
// range() it asks for, the interpreter steps it takes, each value it builds, its output length
// and its wall time — and past any of them it is a NibbleError('over-limit') naming the template.
// The library has no step hook, so Interpreter.prototype.evaluate is wrapped once (a pass-through
// unless one of our renders is running), and so is Environment.prototype.set, to swap in a
// bounded range() when the library declares its global one.
import { Environment, Interpreter, Template } from '@huggingface/jinja';
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

/** Bounds of one render; real templates stay far below each (Hub templates: < 20 KB, < 100k steps). */
export const TEMPLATE_LIMITS = {
  templateChars: 256 * 1024,
  rangeLength: 100_000,
  steps: 2_000_000,
  valueChars: 4 << 20, // any single string or list the template builds, and the output
  wallMs: 3000,
};

interface Budget {
  steps: number;
  deadline: number;
  name: string;
}
let active: Budget | null = null;

const overLimit = (name: string, what: string) =>
  new NibbleError('over-limit', `chat template (${name}) ${what}: it cannot be rendered`);

type Evaluate = (statement: unknown, environment: unknown) => unknown;
const proto = Interpreter.prototype as unknown as { evaluate: Evaluate; __nibbleBudget?: true };
if (!proto.__nibbleBudget) {
  const inner = proto.evaluate;
  proto.evaluate = function (this: unknown, statement: unknown, environment: unknown): unknown {
    const b = active;
    if (b) {
      if (++b.steps > TEMPLATE_LIMITS.steps) throw overLimit(b.name, `takes more than ${TEMPLATE_LIMITS.steps} steps`);
      if ((b.steps & 1023) === 0 && performance.now() > b.deadline)
        throw overLimit(b.name, `runs longer than ${TEMPLATE_LIMITS.wallMs} ms`);
    }
    const v = inner.call(this, statement, environment);
    if (b) {
      const x = (v as { value?: unknown } | undefined)?.value;
      if ((typeof x === 'string' || Array.isArray(x)) && x.length > TEMPLATE_LIMITS.valueChars)
        throw overLimit(b.name, `builds a value of ${x.length} elements (more than ${TEMPLATE_LIMITS.valueChars})`);
    }
    return v;
  };
  proto.__nibbleBudget = true;
  const envProto = Environment.prototype as unknown as { set: (name: string, value: unknown) => unknown };
  const set = envProto.set;
  envProto.set = function (this: unknown, name: string, value: unknown): unknown {
    return set.call(this, name, active && name === 'range' ? boundedRange(active.name) : value);
  };
}

/** Jinja's range(), refusing more than TEMPLATE_LIMITS.rangeLength numbers (range(10**9) would be 8 GB). */
function boundedRange(name: string) {
  return (start: number, stop?: number, step = 1): number[] => {
    if (stop === undefined) {
      stop = start;
      start = 0;
    }
    if (![start, stop, step].every(Number.isFinite) || step === 0)
      throw overLimit(name, `calls range(${start}, ${stop}, ${step})`);
    const n = Math.max(0, Math.ceil((stop - start) / step));
    if (n > TEMPLATE_LIMITS.rangeLength)
      throw overLimit(name, `asks for range() of ${n} numbers (at most ${TEMPLATE_LIMITS.rangeLength})`);
    return Array.from({ length: n }, (_, i) => start + i * step);
  };
}

const compiled = new Map<string, Template>(); // template source → parsed template (few distinct ones)

/**
 * Renders `messages` through `template`; a template that fails to parse or raises is
 * 'bad-format', one past TEMPLATE_LIMITS 'over-limit'. `name` says where it came from.
 */
export function renderChatTemplate(
  template: string,
  messages: readonly ChatMessage[],
  ctx: ChatTemplateContext,
  name = 'chat_template',
): string {
  if (template.length > TEMPLATE_LIMITS.templateChars)
    throw overLimit(name, `is ${template.length} characters long (at most ${TEMPLATE_LIMITS.templateChars})`);
  let t = compiled.get(template);
  if (!t) {
    try {
      t = new Template(template);
    } catch (e) {
      throw new NibbleError('bad-format', `chat template does not parse: ${(e as Error).message} (${name})`);
    }
    if (compiled.size > 8) compiled.clear();
    compiled.set(template, t);
  }
  const outer = active;
  active = { steps: 0, deadline: performance.now() + TEMPLATE_LIMITS.wallMs, name };
  let out: string;
  try {
    out = t.render({ ...ctx, messages: messages.map((m) => ({ ...m })) });
  } catch (e) {
    if (e instanceof NibbleError) throw e;
    if (e instanceof RangeError) throw overLimit(name, `exhausted memory or stack (${e.message})`);
    throw new NibbleError('bad-format', `chat template failed: ${(e as Error).message} (${name})`);
  } finally {
    active = outer;
  }
  if (out.length > TEMPLATE_LIMITS.valueChars)
    throw overLimit(name, `writes ${out.length} characters (at most ${TEMPLATE_LIMITS.valueChars})`);
  return out;
}
