// Running and recent jobs: a progress bar per job with its stage (calibration capture, layer i
// of n, linear name), GPTQ's loss per linear as it comes, elapsed time, and Cancel.
import { useEffect, useState } from 'react';
import { Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { JobState } from '../../state/lab-types.ts';
import { useApp } from '../../state/react.tsx';
import { formatMs } from '../common/format.ts';
import { ProgressBar } from '../common/ProgressBar.tsx';
import { C } from '../charts/palette.ts';

function useNow(active: boolean): number {
  const [now, setNow] = useState(() => globalThis.performance.now());
  useEffect(() => {
    if (!active) return;
    const t = setInterval(() => setNow(globalThis.performance.now()), 250);
    return () => clearInterval(t);
  }, [active]);
  return now;
}

function Job({ job }: { job: JobState }) {
  const cancel = useApp((s) => s.cancelJob);
  const now = useNow(job.status === 'running');
  const elapsed = (job.endedAt ?? now) - job.startedAt;
  return (
    <li className={`job ${job.status}`} data-testid="job" data-kind={job.kind} data-status={job.status}>
      <div className="job-head">
        <span className="job-label">{job.label}</span>
        <span className="muted small">{formatMs(Math.max(0, elapsed))}</span>
        {job.status === 'running' && (
          <button type="button" className="mini-button" onClick={() => cancel(job.id)} data-testid="job-cancel">
            Cancel
          </button>
        )}
      </div>
      <ProgressBar value={Math.round(job.fraction * 100)} />
      <div className={job.status === 'error' ? 'job-stage error-text' : 'job-stage muted'} data-testid="job-stage">
        {job.stage}
      </div>
      {job.losses.length > 1 && (
        <div className="loss-chart" data-testid="gptq-loss">
          <ResponsiveContainer width="100%" height={90}>
            <LineChart data={job.losses} margin={{ top: 4, right: 8, bottom: 0, left: -12 }}>
              <XAxis dataKey="step" hide />
              <YAxis
                scale="log"
                domain={['auto', 'auto']}
                stroke={C.axis}
                fontSize={10}
                width={48}
                tickFormatter={(v: number) => v.toPrecision(2)}
              />
              <Tooltip formatter={(v) => [Number(v).toPrecision(4), 'GPTQ loss']} />
              <Line dataKey="loss" stroke={C.accent} dot={{ r: 2 }} isAnimationActive={false} />
            </LineChart>
          </ResponsiveContainer>
          <div className="hint">GPTQ loss per linear, Σ (w − q)² / (2 U²ᵢᵢ), log scale</div>
        </div>
      )}
    </li>
  );
}

export function JobList({ kinds }: { kinds?: JobState['kind'][] }) {
  const jobs = useApp((s) => s.jobs.list);
  const clear = useApp((s) => s.clearJobs);
  const shown = jobs
    .filter((j) => !kinds || kinds.includes(j.kind))
    .slice()
    .reverse();
  if (shown.length === 0) return null;
  return (
    <section className="card" aria-labelledby="jobs-title" data-testid="jobs">
      <div className="card-head">
        <h2 id="jobs-title">Jobs</h2>
        <button
          type="button"
          className="link-button"
          onClick={clear}
          disabled={!shown.some((j) => j.status !== 'running')}
        >
          Clear finished
        </button>
      </div>
      <ul className="jobs">
        {shown.map((j) => (
          <Job key={j.id} job={j} />
        ))}
      </ul>
    </section>
  );
}
