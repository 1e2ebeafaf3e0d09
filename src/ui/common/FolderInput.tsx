// A hidden <input type=file> that picks a whole folder: `webkitdirectory` is not a React prop,
// so it is set on the element. `inputRef` receives the element (to click() it from a button).
import type { InputHTMLAttributes, RefObject } from 'react';

type Props = InputHTMLAttributes<HTMLInputElement> & {
  inputRef?: RefObject<HTMLInputElement | null>;
  'data-testid'?: string;
};

export function FolderInput({ inputRef, ...props }: Props) {
  return (
    <input
      type="file"
      hidden
      {...props}
      ref={(el) => {
        if (inputRef) inputRef.current = el;
        el?.setAttribute('webkitdirectory', '');
      }}
    />
  );
}
