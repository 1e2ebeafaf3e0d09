// Literal chart colours (CSS variables would not survive PNG export of the SVG).
export const C = {
  accent: '#5b5bd6',
  accentSoft: '#c9c9f4',
  grid: '#e2e5ea',
  axis: '#667085',
  warn: '#d97706',
  bad: '#c4322b',
  ok: '#1a7f4b',
  group: '#f59e0b',
  rne: '#e8590c', // round-to-nearest-even curves beside truncation's accent
};

/** Props every chart axis shares: spread into <XAxis> / <YAxis>. */
export const AXIS = { stroke: C.axis, fontSize: 11 };

/** Series colours, one per variant / layer. */
export const SERIES = ['#5b5bd6', '#e8590c', '#1a7f4b', '#c2255c', '#0b7285', '#7048e8', '#b08800', '#495057'];
export const seriesColor = (i: number): string => SERIES[i % SERIES.length];
