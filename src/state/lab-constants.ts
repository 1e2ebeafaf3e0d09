// Runtime values the UI needs from the engine's spec module, reached through the worker's
// protocol (the UI imports the store only): methods, defaults, labels, validation, names.
export {
  BASE_VARIANT,
  DEFAULT_SPEC,
  LINEAR_NAMES,
  QUANT_METHODS,
  needsCalibration,
  specLabel,
  validateSpec,
} from '../worker/engine-host/lab-protocol.ts';
export { INITIAL_FORM, variantLabel } from './variants-slice.ts';
export { truncKey } from './truncation-slice.ts';
export { firstDivergence } from './ab-slice.ts';
export { defaultWindowsOf, textChars, windowsOf } from './texts-slice.ts';
export { estimateText, MAX_TEXT_BYTES, MAX_WINDOW_LENGTH, MAX_WINDOWS } from '../core/text-source.ts';
