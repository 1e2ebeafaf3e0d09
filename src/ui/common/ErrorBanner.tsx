// The error banner: the store's latest typed error (code + message + what was being done).
import { useApp } from '../../state/react.tsx';

export function ErrorBanner() {
  const error = useApp((s) => s.error);
  const dismiss = useApp((s) => s.dismissError);
  if (!error) return null;
  return (
    <div className="error-banner" role="alert" data-testid="error-banner" data-code={error.code}>
      <span className="error-icon" aria-hidden>
        !
      </span>
      <div className="error-body">
        <div className="error-title">
          {error.context} failed <code className="error-code">{error.code}</code>
        </div>
        <div className="error-message">{error.message}</div>
      </div>
      <button type="button" className="icon-button" onClick={dismiss} aria-label="Dismiss error">
        ×
      </button>
    </div>
  );
}
