// A horizontal bar filled to `fill` percent. As a progressbar it reports value / max (0 … 100
// by default); as a meter (storage quota) the same with its own max.
interface Props {
  value: number;
  max?: number;
  fill?: number; // percent of the width filled; value / max by default
  label?: string;
  role?: 'progressbar' | 'meter';
  className?: string;
  fillClassName?: string;
}

export function ProgressBar({
  value,
  max = 100,
  fill = (value * 100) / max,
  label,
  role = 'progressbar',
  className = 'progress',
  fillClassName = 'progress-fill',
}: Props) {
  return (
    <div
      className={className}
      role={role}
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={max}
      aria-valuenow={value}
    >
      <div className={fillClassName || undefined} style={{ width: `${fill}%` }} />
    </div>
  );
}
