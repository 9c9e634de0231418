// Whole folders on Node: a lock that keeps two processes out of one run
// folder, and replacing a folder by one written beside it (build over an
// earlier build, export over an earlier export), so a kill at any moment
// leaves the old folder or the new one, never a mix, and no stray temporary
// folder survives the next attempt.
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ArtifactError } from '../errors.ts';

const LOCK = '.lossgraph.lock';

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes `dir`'s lock (creating the folder), or fails with one line naming the
 * process that holds it. A lock whose process is gone is taken over. Returns
 * the release function; the lock also goes when this process exits.
 */
export function lockFolder(dir: string, what: string): () => void {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.off('exit', release);
        rmSync(path, { force: true });
      };
      process.on('exit', release);
      return release;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new ArtifactError(`${dir}: cannot lock the folder (${(e as Error).message})`);
      const holder = Number(readFileSync(path, 'utf8').trim());
      if (alive(holder) && holder !== process.pid) throw new ArtifactError(`${dir} is in use by another lossgraph ${what} (process ${holder}); wait for it, or choose another --out`);
      rmSync(path, { force: true }); // its process is gone: a stale lock
    }
  }
  throw new ArtifactError(`${dir}: cannot take the lock`);
}

/** Temporary ('tmp') and set-aside ('old') copies of `out` left by processes that no longer run. */
function staleSiblings(out: string): { path: string; kind: 'tmp' | 'old' }[] {
  const parent = dirname(resolve(out));
  const name = basename(resolve(out));
  if (!existsSync(parent)) return [];
  return readdirSync(parent)
    .map((f) => /^(.*)\.(tmp|old)-(\d+)$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null && m[1] === name && !alive(Number(m[3])))
    .map((m) => ({ path: join(parent, m[0]), kind: m[2] as 'tmp' | 'old' }));
}

/** A folder being written beside `out`: fill `tmp`, then `commit()` (or `abort()`). */
export interface FolderWrite {
  tmp: string;
  commit(): void;
  abort(): void;
}

/**
 * Starts writing a whole folder: files go into a temporary folder beside
 * `out`; commit() puts it in `out`'s place by two renames (the old folder
 * aside, the new one in) and removes the old one. Temporary folders of dead
 * processes are cleaned first, and an `out` that a kill left set aside
 * between the two renames is put back.
 */
export function beginFolder(out: string): FolderWrite {
  for (const s of staleSiblings(out)) {
    if (s.kind === 'old' && !existsSync(out)) renameSync(s.path, out);
    else rmSync(s.path, { recursive: true, force: true });
  }
  const tmp = `${out}.tmp-${process.pid}`;
  const old = `${out}.old-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  return {
    tmp,
    commit() {
      const had = existsSync(out);
      if (had) renameSync(out, old);
      renameSync(tmp, out);
      if (had) rmSync(old, { recursive: true, force: true });
    },
    abort() {
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}
