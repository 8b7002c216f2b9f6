// Collections in insertion order whose oldest entry is found at once, for
// the queues of the protocol state, the inbox and the offline wait: the packet
// ids in flight, the requests waiting for their turn, the kept publishes held
// back, the wait_msg() calls. `keys().next()` walks past the slots of entries
// deleted from the front, which a Map keeps until it is rebuilt, and
// `Array.shift()` moves what follows once an array is large: 60 000 PUBACKs
// that came in order took 0.57 s (0.05 s in reverse order), 100 000 publishes
// waiting for a Receive Maximum of 20 took 4 s to go, and as long to be
// aborted. An iterator kept on the oldest entry would walk past each slot
// once, but it holds every table the Map outgrows since it last moved, and
// their entries with them: a client whose oldest publish stays unacknowledged
// kept ~145 bytes per publish after it. So the order is an array of its own,
// read from a head that only moves forward, and rebuilt once most of it is stale.

/**
 * A Map whose `first()` is its oldest key. Its values are never undefined, and
 * a key deleted is set again with another value (requests, wait_msg() calls:
 * each a new object), so that an entry of the order is stale once its key no
 * longer holds its value.
 */
export class Ordered<K, V> extends Map<K, V> {
  // Keys and their values in the order set, from #head on; stale ones among them.
  #keys: K[] = [];
  #values: V[] = [];
  #head = 0;

  /** The oldest key, if any. */
  first(): K | undefined {
    const keys = this.#keys, values = this.#values;
    let i = this.#head;
    while (i < keys.length && super.get(keys[i]) !== values[i]) i++;
    this.#head = i;
    return keys[i];
  }

  override set(key: K, value: V): this {
    // Set anew, a key keeps its place in the Map: the order is rebuilt (never done here).
    const again = super.has(key);
    super.set(key, value);
    if (again) this.#rebuild();
    else this.#keys.push(key), this.#values.push(value);
    return this;
  }

  override delete(key: K): boolean {
    if (!super.delete(key)) return false;
    // Rebuilt once stale entries outnumber the others (O(1) per delete, amortized), so that
    // the order holds little for long of what left: an aborted call's reason, a request's bytes.
    if (!this.size) this.#keys.length = this.#values.length = this.#head = 0;
    else if (this.#keys.length > 2 * this.size) this.#rebuild();
    return true;
  }

  #rebuild(): void {
    this.#keys = [...super.keys()];
    this.#values = [...super.values()];
    this.#head = 0;
  }
}

/** A queue: a Set in insertion order, as an {@linkcode Ordered} of each element to itself. */
export class Fifo<T> extends Ordered<T, T> {
  /** Adds `value` last. */
  add(value: T): this {
    return this.set(value, value);
  }

  /** Takes the oldest element out, if any. */
  shift(): T | undefined {
    const value = this.first();
    if (value !== undefined) this.delete(value);
    return value;
  }
}
