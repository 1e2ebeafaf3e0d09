// The Quantize view: the form (method + options, Quantize / Cancel), the jobs with their
// progress, and the variants held side by side.
import { QuantizeForm } from './QuantizeForm.tsx';
import { JobList } from './JobList.tsx';
import { VariantList } from './VariantList.tsx';

export function QuantizeTab() {
  return (
    <main className="layout quantize-layout" data-testid="quantize-tab">
      <div className="stack">
        <QuantizeForm />
        <JobList />
      </div>
      <div className="stack">
        <VariantList />
      </div>
    </main>
  );
}
