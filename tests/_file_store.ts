// A session store that writes through to a JSON file, as session_store.ts
// suggests: Map/Set subclasses saving on every change, atomically (write a
// new file, then rename it). For the process-restart tests.
import type { SessionStore } from "../lib/session_store.ts";

const b64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
const unb64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

interface Saved {
  outgoing: [number, string][];
  incoming: number[];
}

/** Reads a store file (an empty session when there is none). */
export function readStoreFile(path: string): Saved {
  try {
    return JSON.parse(Deno.readTextFileSync(path));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { outgoing: [], incoming: [] };
    throw e;
  }
}

/** A SessionStore kept in `path`; `onSave` hears of every change after it is on disk. */
export function fileStore(path: string, onSave?: (what: string) => void): SessionStore {
  const saved = readStoreFile(path);
  let loading = true;
  const save = (what: string) => {
    if (loading) return;
    const data: Saved = {
      outgoing: [...outgoing].map(([id, b]) => [id, b64(b)]),
      incoming: [...incoming],
    };
    Deno.writeTextFileSync(path + ".tmp", JSON.stringify(data));
    Deno.renameSync(path + ".tmp", path);
    onSave?.(what);
  };
  class SavedMap extends Map<number, Uint8Array> {
    override set(id: number, bytes: Uint8Array) {
      super.set(id, bytes.slice());
      save(`outgoing set ${id} type ${bytes[0] >> 4}`);
      return this;
    }
    override delete(id: number) {
      const had = super.delete(id);
      save(`outgoing delete ${id}`);
      return had;
    }
  }
  class SavedSet extends Set<number> {
    override add(id: number) {
      super.add(id);
      save(`incoming add ${id}`);
      return this;
    }
    override delete(id: number) {
      const had = super.delete(id);
      save(`incoming delete ${id}`);
      return had;
    }
  }
  const outgoing = new SavedMap(saved.outgoing.map(([id, s]) => [id, unb64(s)]));
  const incoming = new SavedSet(saved.incoming);
  loading = false;
  return { outgoing, incoming };
}
