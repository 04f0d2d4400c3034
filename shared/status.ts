/** The deployment state machine: statuses and the only allowed transitions, as data. */

export const STATUSES = [
  'pending',
  'setup_running',
  'setup_complete',
  'deploying',
  'deployed',
  'stopped',
  'failed',
] as const;

export type Status = (typeof STATUSES)[number];

export const TRANSITIONS: Readonly<Record<Status, readonly Status[]>> = {
  pending: ['setup_running', 'failed'],
  setup_running: ['setup_complete', 'failed'],
  setup_complete: ['deploying', 'failed'],
  deploying: ['deployed', 'failed'],
  deployed: ['stopped', 'deploying', 'setup_running', 'pending'],
  stopped: ['deploying', 'setup_running', 'pending'],
  failed: ['pending', 'setup_running', 'deploying', 'stopped'],
};

/** True when `from → to` is an edge of the table. */
export function canTransition(from: Status, to: Status): boolean {
  return TRANSITIONS[from].includes(to);
}

/** True when the string names a status. */
export function isStatus(value: string): value is Status {
  return (STATUSES as readonly string[]).includes(value);
}
