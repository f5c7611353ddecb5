// Status → colour, one place for badges, chips and the stage graph.

export type Tone = 'gray' | 'blue' | 'amber' | 'green' | 'red' | 'violet' | 'slate'

const TONES: Record<string, Tone> = {
  // pipelines and stages
  NotStarted: 'gray',
  Pending: 'violet',
  Running: 'blue',
  RetryScheduled: 'amber',
  Completed: 'green',
  Failed: 'red',
  Skipped: 'slate',
  Cancelled: 'slate',
  // workers
  starting: 'blue',
  ready: 'green',
  degraded: 'amber',
  draining: 'amber',
  stopped: 'gray',
  error: 'red',
  offline: 'gray',
}

export function statusTone(status: string): Tone {
  return TONES[status] ?? 'gray'
}

const BADGE: Record<Tone, string> = {
  gray: 'bg-gray-100 text-gray-700 ring-gray-300 dark:bg-gray-800 dark:text-gray-300 dark:ring-gray-600',
  blue: 'bg-blue-100 text-blue-800 ring-blue-300 dark:bg-blue-950 dark:text-blue-300 dark:ring-blue-700',
  amber: 'bg-amber-100 text-amber-800 ring-amber-300 dark:bg-amber-950 dark:text-amber-300 dark:ring-amber-700',
  green: 'bg-green-100 text-green-800 ring-green-300 dark:bg-green-950 dark:text-green-300 dark:ring-green-700',
  red: 'bg-red-100 text-red-800 ring-red-300 dark:bg-red-950 dark:text-red-300 dark:ring-red-700',
  violet: 'bg-violet-100 text-violet-800 ring-violet-300 dark:bg-violet-950 dark:text-violet-300 dark:ring-violet-700',
  slate: 'bg-slate-200 text-slate-700 ring-slate-400 dark:bg-slate-800 dark:text-slate-300 dark:ring-slate-600',
}

const SOLID: Record<Tone, string> = {
  gray: 'bg-gray-300 dark:bg-gray-600',
  blue: 'bg-blue-500',
  amber: 'bg-amber-500',
  green: 'bg-green-500',
  red: 'bg-red-500',
  violet: 'bg-violet-500',
  slate: 'bg-slate-400',
}

export function badgeClass(status: string): string {
  return BADGE[statusTone(status)]
}

export function solidClass(status: string): string {
  return SOLID[statusTone(status)]
}

/** Human label: "RetryScheduled" → "Retry scheduled". */
export function statusLabel(status: string): string {
  const spaced = status.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()
  return spaced.charAt(0).toUpperCase() + spaced.slice(1)
}
