// The prompt box under a chat: a textarea (Enter sends, Shift+Enter breaks the line), a status
// line, Stop, and the send button. The caller owns the text and what sending does; `canSend`
// gates both the button and Enter.
import type { FormEvent, KeyboardEvent, ReactNode } from 'react';

interface Props {
  prompt: string;
  setPrompt: (text: string) => void;
  onSend: () => void;
  onStop: () => void;
  canSend: boolean;
  streaming: boolean;
  sendLabel: ReactNode;
  status: ReactNode; // left of the buttons, e.g. the live tokens/s
  label: string; // the textarea's aria-label
  placeholder?: string;
  testIds: { input: string; stop: string; send: string };
}

export function Composer(p: Props) {
  const submit = (e: FormEvent | KeyboardEvent) => {
    e.preventDefault();
    if (p.canSend) p.onSend();
  };
  return (
    <form className="composer" onSubmit={submit}>
      <textarea
        data-testid={p.testIds.input}
        value={p.prompt}
        onChange={(e) => p.setPrompt(e.target.value)}
        onKeyDown={(e) => e.key === 'Enter' && !e.shiftKey && submit(e)}
        rows={2}
        placeholder={p.placeholder}
        aria-label={p.label}
      />
      <div className="composer-bar">
        {p.status}
        <div className="composer-buttons">
          <button
            type="button"
            className="button secondary"
            data-testid={p.testIds.stop}
            onClick={p.onStop}
            disabled={!p.streaming}
          >
            Stop
          </button>
          <button type="submit" className="button primary" data-testid={p.testIds.send} disabled={!p.canSend}>
            {p.sendLabel}
          </button>
        </div>
      </div>
    </form>
  );
}
