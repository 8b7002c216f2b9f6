// What the reconnecting client (robust.ts) needs from the core client and no
// user should see: one record per client, keyed by the client object.

/** Hooks the core client consults; robust.ts sets them. */
export interface CoreHooks {
  /** Keep acknowledged-pending publishes awaiting across connection loss (robust) instead of rejecting them. */
  keepPending: boolean;
  /** Called once when a connection ends other than by `disconnect()`. */
  onLost?: (error: Error) => void;
  /** Rejects every kept publish; set by the core. */
  rejectKept: (error: Error) => void;
}

/** The hooks of each core client. */
export const hooks: WeakMap<object, CoreHooks> = new WeakMap();
