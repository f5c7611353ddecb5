import { STATUS_LABELS, isPolicyStatus, typeLabel } from './model'

const STATUS_CLASS: Record<string, string> = {
  active: 'bg-green-100 text-green-800 ring-green-300 dark:bg-green-950 dark:text-green-300 dark:ring-green-700',
  paused: 'bg-amber-100 text-amber-800 ring-amber-300 dark:bg-amber-950 dark:text-amber-300 dark:ring-amber-700',
  disabled: 'bg-slate-200 text-slate-700 ring-slate-400 dark:bg-slate-800 dark:text-slate-300 dark:ring-slate-600',
}

export function PolicyStatusBadge({ status }: { status: string }) {
  return (
    <span
      data-testid="policy-status"
      data-status={status}
      className={`inline-flex items-center rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${
        STATUS_CLASS[status] ?? STATUS_CLASS.disabled
      }`}
    >
      {isPolicyStatus(status) ? STATUS_LABELS[status] : status}
    </span>
  )
}

const TYPE_CLASS: Record<string, string> = {
  rate_limit: 'text-blue-700 dark:text-blue-300',
  retry: 'text-violet-700 dark:text-violet-300',
  timeout: 'text-amber-700 dark:text-amber-300',
  circuit_breaker: 'text-red-700 dark:text-red-300',
}

export function PolicyTypeLabel({ type }: { type: string }) {
  return (
    <span data-testid="policy-type" data-type={type} className={`whitespace-nowrap text-xs font-medium ${TYPE_CLASS[type] ?? ''}`}>
      {typeLabel(type)}
    </span>
  )
}
