// One line for a path that cannot be read, saying why: "no such file" was said
// for a folder without read permission, a loop of symbolic links and a link to
// nothing alike, which sent people looking for a typo that was not there.
import { lstatSync, readlinkSync } from 'node:fs';
import { DataError } from '../errors.ts';

export function unreadable(path: string, e: unknown, kind: 'file' | 'folder'): DataError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return new DataError(`${path}: ${reason(path, code, kind)}`);
}

function reason(path: string, code: string | undefined, kind: 'file' | 'folder'): string {
  switch (code) {
    case 'ENOENT': {
      const target = danglingTarget(path);
      return target === undefined ? `no such ${kind}` : `a symbolic link to ${target}, which does not exist`;
    }
    case 'EACCES':
    case 'EPERM':
      return `cannot be read: permission denied`;
    case 'ELOOP':
      return 'a loop of symbolic links';
    case 'EISDIR':
      return 'a folder, not a file';
    case 'ENOTDIR':
      return kind === 'folder' ? 'a file, not a folder' : 'not a file (a part of the path is a file)';
    default:
      return `cannot be read (${code ?? 'unknown error'})`;
  }
}

/** Where `path` points if it is a symbolic link whose target is missing. */
function danglingTarget(path: string): string | undefined {
  try {
    return lstatSync(path).isSymbolicLink() ? readlinkSync(path) : undefined;
  } catch {
    return undefined;
  }
}
