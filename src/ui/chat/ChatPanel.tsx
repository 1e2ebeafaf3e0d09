// The chat: each turn is a prompt (highlighted) followed by the model's streamed continuation.
// The latest continuation carries data-testid="chat-output" and data-status (streaming/done/…).
// A model with a chat template (badge "chat template") gets a conversation instead: a system
// prompt field, the user's messages and the model's replies (chat-slice.ts sends them as messages).
import { memo, useEffect, useRef, useState } from 'react';
import { useApp } from '../../state/react.tsx';
import type { ChatTurn, GenerationSummary } from '../../state/types.ts';
import { variantLabel } from '../../state/lab-constants.ts';
import { formatBytes, formatMs, formatRate } from '../common/format.ts';
import { Composer } from './Composer.tsx';
import './chat.css';

const STOP_REASON: Record<GenerationSummary['stoppedBy'], string> = {
  length: 'max tokens reached',
  eos: 'end of text',
  cancelled: 'stopped',
  context: 'context full',
};

function TurnStats({ turn }: { turn: ChatTurn }) {
  const r = turn.result;
  const label = useApp((s) => (r?.variant && r.variant !== 'base' ? variantLabel(s.variants.list, r.variant) : null));
  const s = turn.settings;
  const sampling = s.temperature === 0 ? 'greedy' : `T ${s.temperature} · top-p ${s.topP} · seed ${s.seed}`;
  if (turn.status === 'error') return <div className="turn-stats error-text">failed: {turn.error?.message}</div>;
  if (!r) return <div className="turn-stats">{sampling}</div>;
  return (
    <div className="turn-stats">
      <span>{r.tokens.length} tokens</span>
      <span>{formatRate(r.decodeTokensPerSecond)} tok/s</span>
      <span
        title={
          turn.chat
            ? 'tokens of the chat as the template rendered it, processed in one pass'
            : 'prompt tokens (with BOS) processed in one pass'
        }
      >
        prefill {r.promptTokens} tok in {formatMs(r.prefillMs)}
      </span>
      <span>{r.backend === 'webgpu' ? 'WebGPU' : 'CPU'}</span>
      {r.gpuMemory && (
        <span title="weights + KV cache + activations held on the GPU">GPU {formatBytes(r.gpuMemory.totalBytes)}</span>
      )}
      {label && <span className="badge">{label}</span>}
      <span>{sampling}</span>
      <span className={r.stoppedBy === 'cancelled' ? 'warn-text' : undefined}>{STOP_REASON[r.stoppedBy]}</span>
    </div>
  );
}

/** The generated text of a turn, with a caret while it streams. */
function Completion({ turn, latest }: { turn: ChatTurn; latest: boolean }) {
  return (
    <>
      <span data-testid={latest ? 'chat-output' : undefined} data-status={turn.status} className="completion">
        {turn.text}
      </span>
      {turn.status === 'streaming' && <span className="caret" aria-hidden />}
    </>
  );
}

/** Memoized: while one turn streams, the finished ones above it do not re-render. */
const Turn = memo(function Turn({ turn, latest }: { turn: ChatTurn; latest: boolean }) {
  if (turn.chat) {
    return (
      <article className="turn chat-turn" data-testid="chat-turn">
        <p className="chat-msg user">{turn.prompt}</p>
        <p className="chat-msg assistant">
          <Completion turn={turn} latest={latest} />
        </p>
        <TurnStats turn={turn} />
      </article>
    );
  }
  return (
    <article className="turn" data-testid="chat-turn">
      <p className="story">
        {turn.prompt ? (
          <mark className="prompt">{turn.prompt}</mark>
        ) : (
          <span className="bos" title="generation started from the BOS token">
            BOS
          </span>
        )}
        <Completion turn={turn} latest={latest} />
      </p>
      <TurnStats turn={turn} />
    </article>
  );
});

function LiveRate() {
  const streaming = useApp((s) => s.chat.streaming);
  const tokens = useApp((s) =>
    s.chat.streaming ? (s.chat.turns.find((t) => t.id === s.chat.streaming!.turnId)?.tokens ?? 0) : 0,
  );
  const modelStatus = useApp((s) => s.model.status);
  let text = modelStatus === 'ready' ? 'Ready' : modelStatus === 'loading' ? 'Loading model…' : 'No model loaded';
  if (streaming)
    text = `Generating · ${tokens} tokens · ${streaming.tokensPerSecond > 0 ? `${formatRate(streaming.tokensPerSecond)} tok/s` : 'prefill…'}`;
  return (
    <div className={streaming ? 'live-rate active' : 'live-rate'} data-testid="tokens-per-second" aria-live="polite">
      {text}
    </div>
  );
}

export function ChatPanel() {
  const turns = useApp((s) => s.chat.turns);
  const streaming = useApp((s) => s.chat.streaming !== null);
  const ready = useApp((s) => s.model.status === 'ready');
  const send = useApp((s) => s.send);
  const stop = useApp((s) => s.stop);
  const clear = useApp((s) => s.clearChat);
  const chat = useApp((s) => s.model.info?.chatTemplate === true);
  const system = useApp((s) => s.chat.system);
  const setSystem = useApp((s) => s.setSystemPrompt);
  const [prompt, setPrompt] = useState('');
  const canSend = ready && !streaming && (!chat || prompt.trim() !== '');
  const scroller = useRef<HTMLDivElement>(null);

  // Follow the stream unless the reader scrolled up.
  const last = turns[turns.length - 1];
  useEffect(() => {
    const el = scroller.current;
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 120) el.scrollTop = el.scrollHeight;
  }, [last?.text, turns.length]);

  return (
    <section className="card chat" aria-label="Chat">
      <div className="card-head">
        <h2>
          {chat ? 'Chat' : 'Story'}
          {chat && (
            <span
              className="badge chat-template-badge"
              data-testid="chat-template-badge"
              title="messages are rendered through the model's own chat template (its special tokens, BOS included, come from the template)"
            >
              chat template
            </span>
          )}
        </h2>
        <button type="button" className="link-button" onClick={clear} disabled={streaming || turns.length === 0}>
          Clear
        </button>
      </div>
      {chat && (
        <label className="system-prompt">
          <span>System</span>
          <input
            data-testid="chat-system"
            type="text"
            value={system}
            onChange={(e) => setSystem(e.target.value)}
            placeholder="optional system prompt, sent before the conversation"
            disabled={streaming}
          />
        </label>
      )}
      <div className="transcript" ref={scroller}>
        {turns.length === 0 && chat ? (
          <div className="empty">
            <p>
              This model has a chat template: write a message and press <b>Send</b>; earlier turns are sent with it.
            </p>
          </div>
        ) : turns.length === 0 ? (
          <div className="empty">
            <p>The model writes short children's stories.</p>
            <p>
              Type the start of one, or leave the box empty to let it begin from scratch, then press <b>Generate</b>.
            </p>
          </div>
        ) : (
          turns.map((t, i) => <Turn key={t.id} turn={t} latest={i === turns.length - 1} />)
        )}
      </div>
      <Composer
        prompt={prompt}
        setPrompt={setPrompt}
        onSend={() => {
          void send(prompt);
          setPrompt('');
        }}
        onStop={stop}
        canSend={canSend}
        streaming={streaming}
        sendLabel={chat ? 'Send' : 'Generate'}
        status={<LiveRate />}
        label={chat ? 'Message' : 'Prompt'}
        placeholder={
          chat
            ? 'Message…  (Enter to send, Shift+Enter for a new line)'
            : 'Once upon a time…  (Enter to generate, Shift+Enter for a new line)'
        }
        testIds={{ input: 'chat-input', stop: 'stop', send: 'chat-send' }}
      />
    </section>
  );
}
