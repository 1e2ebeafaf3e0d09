// The Charts view: what quantization does to the chosen tensor (histogram + grid, bucket
// collisions), to the activations (outlier features) and to the outputs (drift, Pareto).
import { CollisionsChart } from './CollisionsChart.tsx';
import { DriftChart } from './DriftChart.tsx';
import { HistogramChart } from './HistogramChart.tsx';
import { OutliersChart } from './OutliersChart.tsx';
import { TensorPicker } from './TensorPicker.tsx';

export function ChartsTab() {
  return (
    <main className="lab" data-testid="charts-tab">
      <TensorPicker />
      <div className="chart-grid">
        <HistogramChart />
        <CollisionsChart />
        <OutliersChart />
        <DriftChart />
      </div>
    </main>
  );
}
