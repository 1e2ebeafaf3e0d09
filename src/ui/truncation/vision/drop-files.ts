// What the user dropped on the vision lab, turned into a VisionSource: an .onnx classifier with
// an IDX pair (told apart by their magic numbers), or with a folder of images + a labels file
// (decoded here to grayscale Float32 in [0, 1] through a canvas), or alone (then it runs on the
// embedded held-out digits). Folders dropped whole are walked (webkitGetAsEntry).
import type { VisionSource } from '../../../state/vision-slice.ts';

const IMAGE_RE = /\.(png|jpe?g|bmp|gif|webp)$/i;
const LABELS_RE = /\.(txt|csv|tsv)$/i;
export const MAX_IMAGES = 20_000;

export type DropPlan =
  | { kind: 'model-only'; model: File }
  | { kind: 'idx'; model: File; images: File; labels: File }
  | { kind: 'images'; model: File; images: File[]; labels: File };

/** A user mistake in the drop, said plainly (shown under the drop zone). */
export class DropError extends Error {}

const pathOf = (f: File): string => (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;

async function magic(f: File): Promise<number> {
  const b = new Uint8Array(await f.slice(0, 4).arrayBuffer());
  return b.length < 4 ? -1 : ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

/** Decides what the files are. Throws DropError with what is missing or ambiguous. */
export async function planDrop(files: File[]): Promise<DropPlan> {
  const models = files.filter((f) => /\.onnx$/i.test(f.name));
  if (models.length === 0)
    throw new DropError(
      'Drop an .onnx image classifier (with an IDX pair or a folder of images + a labels file, or alone to run it on the embedded digits).',
    );
  if (models.length > 1) throw new DropError(`Drop one model at a time (got ${models.map((m) => m.name).join(', ')}).`);
  const model = models[0];
  const rest = files.filter((f) => f !== model && !f.name.startsWith('.'));
  const images = rest.filter((f) => IMAGE_RE.test(f.name));
  const texts = rest.filter((f) => LABELS_RE.test(f.name));
  const others = rest.filter((f) => !images.includes(f) && !texts.includes(f));
  let idxImages: File | undefined;
  let idxLabels: File | undefined;
  for (const f of others) {
    const m = await magic(f);
    if (m === 0x803) idxImages = f;
    else if (m === 0x801) idxLabels = f;
    else if (/\.gz$/i.test(f.name))
      throw new DropError(`${f.name} is compressed: unpack it first (gunzip) and drop the IDX file.`);
  }
  if (idxImages || idxLabels) {
    if (!idxImages || !idxLabels)
      throw new DropError(
        `An IDX pair needs both files: images (magic 0x803) and labels (0x801); got only the ${idxImages ? 'images' : 'labels'}.`,
      );
    return { kind: 'idx', model, images: idxImages, labels: idxLabels };
  }
  if (images.length > 0) {
    if (texts.length !== 1)
      throw new DropError(
        texts.length
          ? `Several possible labels files (${texts.map((t) => t.name).join(', ')}): drop one.`
          : 'The images need a labels file (.txt or .csv: "name,label" lines, or one label per line in file-name order).',
      );
    if (images.length > MAX_IMAGES)
      throw new DropError(`${images.length} images: the lab takes at most ${MAX_IMAGES}.`);
    const sorted = [...images].sort((a, b) => pathOf(a).localeCompare(pathOf(b), undefined, { numeric: true }));
    return { kind: 'images', model, images: sorted, labels: texts[0] };
  }
  if (rest.length > 0)
    throw new DropError(
      `Not sure what ${rest.map((f) => f.name).join(', ')} ${rest.length === 1 ? 'is' : 'are'}: expected IDX files, images or a labels file.`,
    );
  return { kind: 'model-only', model };
}

/** Decodes images to grayscale [n, h, w] at the first image's size (others are scaled to it). */
export async function decodeImages(
  files: File[],
  onProgress?: (done: number, total: number) => void,
): Promise<{ pixels: Float32Array; height: number; width: number }> {
  const first = await createImageBitmap(files[0]);
  const width = first.width;
  const height = first.height;
  first.close();
  if (width * height > 512 * 512)
    throw new DropError(`Images of ${width}×${height} are too large for the lab (at most 512×512 pixels).`);
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const g = canvas.getContext('2d', { willReadFrequently: true });
  if (!g) throw new DropError('This browser cannot decode images here (no 2D canvas).');
  const hw = width * height;
  const pixels = new Float32Array(files.length * hw);
  for (let i = 0; i < files.length; i++) {
    let bmp: ImageBitmap;
    try {
      bmp = await createImageBitmap(files[i]);
    } catch {
      throw new DropError(`${pathOf(files[i])} is not an image this browser can decode.`);
    }
    g.fillStyle = '#000';
    g.fillRect(0, 0, width, height); // transparent pixels count as black (MNIST: white on black)
    g.drawImage(bmp, 0, 0, width, height);
    bmp.close();
    const d = g.getImageData(0, 0, width, height).data;
    for (let p = 0; p < hw; p++)
      pixels[i * hw + p] = (0.299 * d[4 * p] + 0.587 * d[4 * p + 1] + 0.114 * d[4 * p + 2]) / 255;
    if (i % 50 === 49) onProgress?.(i + 1, files.length);
  }
  onProgress?.(files.length, files.length);
  return { pixels, height, width };
}

/** Reads and decodes a plan into the source the vision worker takes. */
export async function sourceFromPlan(
  plan: DropPlan,
  embedded: Extract<VisionSource, { kind: 'url' }>,
  onProgress?: (done: number, total: number) => void,
): Promise<{ source: VisionSource; release: () => void }> {
  const name = plan.model.name;
  const none = () => undefined;
  switch (plan.kind) {
    case 'model-only': {
      const url = URL.createObjectURL(plan.model); // the worker fetches it like the embedded model
      return { source: { ...embedded, name, modelUrl: url }, release: () => URL.revokeObjectURL(url) };
    }
    case 'idx': {
      const [model, images, labels] = await Promise.all([
        plan.model.arrayBuffer(),
        plan.images.arrayBuffer(),
        plan.labels.arrayBuffer(),
      ]);
      return {
        source: { kind: 'idx', name, dataName: `${plan.images.name} + ${plan.labels.name}`, model, images, labels },
        release: none,
      };
    }
    case 'images': {
      const [model, labelsText, decoded] = await Promise.all([
        plan.model.arrayBuffer(),
        plan.labels.text(),
        decodeImages(plan.images, onProgress),
      ]);
      const first = pathOf(plan.images[0]);
      const where = first.includes('/') ? `${first.split('/')[0]}/` : 'dropped images';
      return {
        source: {
          kind: 'images',
          name,
          dataName: `${where} (labels: ${plan.labels.name})`,
          model,
          pixels: decoded.pixels.buffer as ArrayBuffer,
          height: decoded.height,
          width: decoded.width,
          names: plan.images.map(pathOf),
          labelsText,
        },
        release: none,
      };
    }
  }
}

/** Every file of a drop, folders walked (Chromium, Firefox, Safari: webkitGetAsEntry). */
export async function filesFromDataTransfer(dt: DataTransfer): Promise<File[]> {
  const entries = [...dt.items].map((i) => i.webkitGetAsEntry?.()).filter((e): e is FileSystemEntry => !!e);
  if (entries.length === 0) return [...dt.files];
  const out: File[] = [];
  const walk = async (e: FileSystemEntry, prefix: string): Promise<void> => {
    if (e.isFile) {
      const f = await new Promise<File>((res, rej) => (e as FileSystemFileEntry).file(res, rej));
      if (prefix) Object.defineProperty(f, 'webkitRelativePath', { value: `${prefix}${f.name}` });
      out.push(f);
      return;
    }
    const reader = (e as FileSystemDirectoryEntry).createReader();
    for (;;) {
      const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
      if (batch.length === 0) break;
      for (const c of batch) await walk(c, `${prefix}${e.name}/`);
    }
  };
  for (const e of entries) await walk(e, '');
  return out;
}
