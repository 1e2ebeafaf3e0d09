// Placeholder for the quantization workbench: says plainly that it is not in this release.
export function QuantizeTab() {
  return (
    <main className="layout single">
      <section className="card empty-card" data-testid="quantize-tab">
        <h2>Quantize</h2>
        <p>
          Quantizing weights (q8, q4, GPTQ, NF4…) and comparing them with the f32 model is coming in the next release.
          This build runs f32 weights only.
        </p>
      </section>
    </main>
  );
}
