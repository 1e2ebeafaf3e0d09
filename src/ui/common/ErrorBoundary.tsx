// Last line of defence: a render error shows a message and a way out, never a blank page.
import { Component, type ReactNode } from 'react';

interface State {
  error: Error | null;
}

export class ErrorBoundary extends Component<{ children: ReactNode }, State> {
  override state: State = { error: null };

  static getDerivedStateFromError(error: Error): State {
    return { error };
  }

  override render() {
    if (!this.state.error) return this.props.children;
    return (
      <div className="error-banner fatal" role="alert" data-testid="error-banner" data-code="internal">
        <span className="error-icon" aria-hidden>
          !
        </span>
        <div className="error-body">
          <div className="error-title">
            The page hit a bug <code className="error-code">internal</code>
          </div>
          <div className="error-message">{this.state.error.message}</div>
        </div>
        <button type="button" className="button" onClick={() => window.location.reload()}>
          Reload
        </button>
      </div>
    );
  }
}
