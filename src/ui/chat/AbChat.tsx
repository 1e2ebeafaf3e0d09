// A/B chat: one prompt, two variants streaming side by side; the first diverging token is
// marked in both, with tokens/s and GPU memory of each side.
import { memo, useState } from 'react';
import type { AbSide, AbTurn } from '../../state/lab-types.ts';
import { useApp } from '../../state/react.tsx';
import { formatBytes, formatRate } from '../common/format.ts';
import { Composer } from './Composer.tsx';
import './ab.css';

function SideText({
  side,
  divergeAt,
  testId,
  status,
}: {
  side: AbSide;
  divergeAt: number | null;
  testId: string;
  status: AbTurn['status'];
}) {
  // Before the divergence: one run of text; from it on: the diverging token marked, the rest dimmed.
  const cut = divergeAt === null ? side.pieces.length : Math.min(divergeAt, side.pieces.length);
  const same = side.pieces.slice(0, cut).join('');
  const first = divergeAt !== null ? side.pieces[divergeAt] : undefined;
  const rest = divergeAt !== null ? side.pieces.slice(divergeAt + 1).join('') : '';
  return (
    <span className="completion" data-testid={testId} data-status={status} data-tokens={side.tokens.length}>
      {same}
      {first !== undefined && (
        <mark className="diverge" title={`first token that differs (#${divergeAt! + 1})`}>
          {first}
        </mark>
      )}
      {rest && <span className="after-diverge">{rest}</span>}
    </span>
  );
}

function SideStats({ side }: { side: AbSide }) {
  const r = side.result;
  const mem = r?.gpuMemory;
  return (
    <div className="turn-stats">
      <span>{side.tokens.length} tokens</span>
      <span>{formatRate(r ? r.decodeTokensPerSecond : side.tokensPerSecond)} tok/s</span>
      {r && <span>{r.backend === 'webgpu' ? 'WebGPU' : 'CPU'}</span>}
      {mem && (
        <span
          title={`weights ${formatBytes(mem.weightBytes)} · KV cache ${formatBytes(mem.kvCacheBytes)} · activations ${formatBytes(mem.activationBytes)}`}
        >
          GPU {formatBytes(mem.totalBytes)}
        </span>
      )}
      {r && !mem && <span>no GPU memory (CPU)</span>}
    </div>
  );
}

const AbTurnView = memo(function AbTurnView({ turn, latest }: { turn: AbTurn; latest: boolean }) {
  const d = turn.divergeAt;
  return (
    <article className="ab-turn" data-testid="ab-turn">
      <div className="ab-prompt">
        {turn.prompt ? <mark className="prompt">{turn.prompt}</mark> : <span className="bos">BOS</span>}
        <span className="muted small" data-testid={latest ? 'ab-diverge' : undefined} data-index={d ?? ''}>
          {d === null
            ? turn.status === 'streaming'
              ? 'identical so far'
              : 'identical outputs'
            : `diverge at token ${d + 1}`}
          {turn.settings.temperature === 0
            ? ' · greedy'
            : ` · T ${turn.settings.temperature} · seed ${turn.settings.seed}`}
        </span>
      </div>
      <div className="ab-columns">
        {turn.sides.map((side, i) => (
          <div key={i} className="ab-side">
            <div className="ab-side-head">
              <span className="ab-letter">{i === 0 ? 'A' : 'B'}</span> {side.label}
            </div>
            <p className="story">
              <SideText
                side={side}
                divergeAt={d}
                status={turn.status}
                testId={latest ? `ab-output-${i === 0 ? 'a' : 'b'}` : `ab-old-${i}`}
              />
              {turn.status === 'streaming' && <span className="caret" aria-hidden />}
            </p>
            <SideStats side={side} />
          </div>
        ))}
      </div>
      {turn.error && <div className="turn-stats error-text">failed: {turn.error.message}</div>}
    </article>
  );
});

export function AbChat() {
  const turns = useApp((s) => s.ab.turns);
  const streaming = useApp((s) => s.ab.streaming);
  const ready = useApp((s) => s.model.status === 'ready');
  const distinct = useApp((s) => s.ab.a !== s.ab.b);
  const send = useApp((s) => s.sendAb);
  const stop = useApp((s) => s.stopAb);
  const clear = useApp((s) => s.clearAb);
  const [prompt, setPrompt] = useState('Once upon a time');
  return (
    <section className="card chat" aria-label="A/B chat" data-testid="ab-chat">
      <div className="card-head">
        <h2>A/B</h2>
        <button type="button" className="link-button" onClick={clear} disabled={streaming || turns.length === 0}>
          Clear
        </button>
      </div>
      <div className="transcript">
        {turns.length === 0 ? (
          <div className="empty">
            <p>Type a prompt: both variants continue it with the same settings and seed.</p>
            <p>
              {distinct
                ? 'Pick A and B in the Variant card.'
                : 'A and B are the same variant: pick two different ones.'}
            </p>
          </div>
        ) : (
          turns.map((t, i) => <AbTurnView key={t.id} turn={t} latest={i === turns.length - 1} />)
        )}
      </div>
      <Composer
        prompt={prompt}
        setPrompt={setPrompt}
        onSend={() => void send(prompt)}
        onStop={stop}
        canSend={ready && !streaming && distinct}
        streaming={streaming}
        sendLabel="Generate A and B"
        status={
          <div className="live-rate">
            {streaming ? 'Generating both…' : distinct ? 'Ready' : 'Pick two different variants'}
          </div>
        }
        label="A/B prompt"
        testIds={{ input: 'ab-input', stop: 'ab-stop', send: 'ab-send' }}
      />
    </section>
  );
}
