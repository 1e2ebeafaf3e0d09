// Panels other features contribute without editing the shell: any module under the folders
// below that exports a component with one of these names is rendered in its place.
//   VisionLab     — the Truncation tab, beside the language-model lab (src/ui/truncation/vision/)
//   ModelsDrawer  — once at app level; it shows and hides itself (src/ui/models/)
//   HeaderActions — in the header, before the model status pill (src/ui/models/, src/ui/offline/)
// Modules are found at build time (import.meta.glob) and loaded lazily after the first render.
import { lazy, Suspense, type ComponentType } from 'react';

type Mod = Record<string, unknown>;

const MODULES: Record<string, () => Promise<Mod>> = {
  ...import.meta.glob<Mod>('../truncation/vision/**/*.tsx'),
  ...import.meta.glob<Mod>('../models/**/*.tsx'),
  ...import.meta.glob<Mod>('../offline/**/*.tsx'),
};

export type SlotName = 'VisionLab' | 'ModelsDrawer' | 'HeaderActions';

const Nothing = () => null;

function slot(name: SlotName) {
  return lazy(async () => {
    for (const load of Object.values(MODULES)) {
      const m = await load();
      if (typeof m[name] === 'function') return { default: m[name] as ComponentType };
    }
    return { default: Nothing };
  });
}

const SLOTS: Record<SlotName, ComponentType> = {
  VisionLab: slot('VisionLab'),
  ModelsDrawer: slot('ModelsDrawer'),
  HeaderActions: slot('HeaderActions'),
};

/** Renders the component another feature exports as `name` (nothing when none does). */
export function Slot({ name }: { name: SlotName }) {
  const C = SLOTS[name];
  return (
    <Suspense fallback={null}>
      <C />
    </Suspense>
  );
}
