// Drop zone (and file / folder pickers) for another ONNX image classifier and its data.
import { useState, type DragEvent } from 'react';
import { useApp } from '../../../state/react.tsx';
import type { VisionSource } from '../../../state/vision-slice.ts';
import { FolderInput } from '../../common/FolderInput.tsx';
import { DropError, filesFromDataTransfer, planDrop, sourceFromPlan } from './drop-files.ts';

export function VisionDrop({ embedded }: { embedded: Extract<VisionSource, { kind: 'url' }> | null }) {
  const openVision = useApp((s) => s.openVision);
  const openDefault = useApp((s) => s.openVisionDefault);
  const model = useApp((s) => s.vision.model);
  const status = useApp((s) => s.vision.status);
  const opening = status === 'opening';
  const [over, setOver] = useState(false);
  const [note, setNote] = useState<{ text: string; bad: boolean } | null>(null);

  const take = async (files: File[]) => {
    if (!embedded || files.length === 0) return;
    setNote(null);
    try {
      const plan = await planDrop(files);
      const what =
        plan.kind === 'idx'
          ? 'IDX pair'
          : plan.kind === 'images'
            ? `${plan.images.length} images`
            : 'the embedded held-out digits';
      setNote({ text: `Opening ${plan.model.name} with ${what}…`, bad: false });
      const { source, release } = await sourceFromPlan(plan, embedded, (done, total) =>
        setNote({ text: `Decoding images: ${done} / ${total}`, bad: false }),
      );
      try {
        await openVision(source);
      } finally {
        release();
      }
      setNote(null);
    } catch (e) {
      setNote({
        text: e instanceof DropError ? e.message : `Could not read the files: ${(e as Error).message}`,
        bad: true,
      });
    }
  };

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    void filesFromDataTransfer(e.dataTransfer).then(take, (err: Error) =>
      setNote({ text: `Could not read the drop: ${err.message}`, bad: true }),
    );
  };

  return (
    <section className="card vision-drop-card" aria-labelledby="vision-drop-title">
      <div className="card-head">
        <h2 id="vision-drop-title">Your own classifier</h2>
        {embedded && (status === 'error' || (model && model.name !== embedded.name)) && (
          <button
            type="button"
            className="link-button"
            onClick={() => void openDefault()}
            disabled={opening}
            data-testid="vision-back"
          >
            Back to the embedded ViT
          </button>
        )}
      </div>
      <div
        className={over ? 'vision-drop over' : 'vision-drop'}
        data-testid="vision-drop"
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={onDrop}
      >
        <p>
          Drop an <strong>.onnx</strong> image classifier (one float input <code>[N, 1, H, W]</code> or{' '}
          <code>[N, H, W]</code> in [0, 1], logits <code>[N, classes]</code>) with
        </p>
        <ul>
          <li>
            an IDX pair (images <code>0x803</code> + labels <code>0x801</code>, uncompressed), or
          </li>
          <li>
            a folder of images + a labels file (<code>name,label</code> lines, or one label per line in file-name
            order), or
          </li>
          <li>nothing else, to run it on the embedded 28×28 digits.</li>
        </ul>
        <div className="vision-drop-buttons">
          <label className="button secondary">
            Choose files…
            <input
              type="file"
              multiple
              hidden
              data-testid="vision-files"
              onChange={(e) => void take([...(e.target.files ?? [])])}
            />
          </label>
          <label className="button secondary">
            Choose a folder…
            <FolderInput onChange={(e) => void take([...(e.target.files ?? [])])} />
          </label>
        </div>
        <p className="muted small">
          Images are decoded to grayscale in this page (transparent = black) and scaled to the first image's size;
          nothing leaves your machine.
        </p>
      </div>
      {note && (
        <p className={note.bad ? 'error-text small' : 'muted small'} data-testid="vision-drop-note">
          {note.text}
        </p>
      )}
    </section>
  );
}
