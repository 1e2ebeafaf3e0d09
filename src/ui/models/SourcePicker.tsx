// Where a model comes from: a drop zone (files or whole folders), "Choose files" (multi-select),
// "Choose folder" (File System Access API when the browser has it, else <input webkitdirectory>),
// and a URL / HF repo id field that fetches only when the user presses Fetch. Every way ends in
// the store's chooseModelFiles / chooseRemoteModel, which inspect the model and show its plan.
import { useRef, useState, type ChangeEvent, type DragEvent, type FormEvent } from 'react';
import { useApp } from '../../state/react.tsx';
import { collectDrop, filesFromList, prepareFiles, walkHandle, type HandleLike } from './source-files.ts';
import type { SourceFile } from '../../state/types.ts';
import { FolderInput } from '../common/FolderInput.tsx';

type DirectoryPicker = (opts?: { mode?: 'read' }) => Promise<HandleLike>;

const directoryPicker = (): DirectoryPicker | undefined =>
  (globalThis as unknown as { showDirectoryPicker?: DirectoryPicker }).showDirectoryPicker?.bind(globalThis);

const isAbort = (e: unknown): boolean => (e as { name?: string })?.name === 'AbortError';

export function SourcePicker({ disabled }: { disabled: boolean }) {
  const chooseFiles = useApp((s) => s.chooseModelFiles);
  const chooseRemote = useApp((s) => s.chooseRemoteModel);
  const showError = useApp((s) => s.showError);
  const [over, setOver] = useState(false);
  const [url, setUrl] = useState('');
  const folderInput = useRef<HTMLInputElement | null>(null);

  const take = (files: SourceFile[]) => {
    const { files: rel, name } = prepareFiles(files);
    void chooseFiles(rel, name);
  };
  const fail = (context: string, e: unknown) =>
    !isAbort(e) && showError(context, { code: 'bad-argument', message: (e as Error)?.message ?? String(e) });

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    if (disabled) return;
    collectDrop(e.dataTransfer).then(take, (err) => fail('Reading the dropped files', err)); // called synchronously: items expire after the event
  };

  const onPicked = (e: ChangeEvent<HTMLInputElement>) => {
    const list = e.target.files;
    if (list?.length) take(filesFromList(list));
    e.target.value = ''; // the same files again later still fire change
  };

  const pickFolder = async () => {
    const picker = directoryPicker();
    if (!picker) return folderInput.current?.click();
    try {
      take(await walkHandle(await picker({ mode: 'read' })));
    } catch (e) {
      fail('Reading the folder', e);
    }
  };

  const fetchUrl = (e: FormEvent) => {
    e.preventDefault();
    if (url.trim()) void chooseRemote(url);
  };

  return (
    <div className="byom-picker">
      <div
        className={over ? 'drop-zone over' : 'drop-zone'}
        data-testid="byom-drop"
        aria-disabled={disabled}
        onDragEnter={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragOver={(e) => {
          e.preventDefault();
          e.dataTransfer.dropEffect = disabled ? 'none' : 'copy';
        }}
        onDragLeave={(e) => !e.currentTarget.contains(e.relatedTarget as Node | null) && setOver(false)}
        onDrop={onDrop}
      >
        <p className="drop-title">Drop model files or a folder here</p>
        <p className="muted small" id="byom-kinds">
          llama2.c .bin (+ tokenizer .bin), .gguf, .nibble, or a Hugging Face folder (config.json, *.safetensors,
          tokenizer.json). Read in place, never uploaded.
        </p>
        <div className="drop-buttons">
          <label className={disabled ? 'button secondary picker-label disabled' : 'button secondary picker-label'}>
            Choose files
            <input
              type="file"
              multiple
              className="visually-hidden"
              data-testid="model-files"
              aria-describedby="byom-kinds"
              disabled={disabled}
              onChange={onPicked}
            />
          </label>
          <button
            type="button"
            className="button secondary"
            onClick={() => void pickFolder()}
            disabled={disabled}
            data-testid="byom-folder-button"
          >
            Choose folder
          </button>
          <FolderInput
            multiple
            inputRef={folderInput}
            data-testid="model-folder"
            aria-label="Model folder"
            disabled={disabled}
            onChange={onPicked}
          />
        </div>
      </div>
      <form className="byom-url" onSubmit={fetchUrl}>
        <label htmlFor="byom-url">Hugging Face repo id or URL</label>
        <div className="url-row">
          <input
            id="byom-url"
            type="text"
            className="text-input"
            placeholder="owner/name or https://…/model.gguf"
            spellCheck={false}
            autoComplete="off"
            value={url}
            onChange={(e) => setUrl(e.target.value)}
            data-testid="byom-url"
            aria-describedby="byom-url-hint"
            disabled={disabled}
          />
          <button
            type="submit"
            className="button secondary"
            disabled={disabled || !url.trim()}
            data-testid="byom-fetch"
          >
            Fetch
          </button>
        </div>
        <p className="hint" id="byom-url-hint">
          Nothing is downloaded until you press Fetch. A repo id downloads from huggingface.co; a URL from the site it
          names.
        </p>
      </form>
    </div>
  );
}
