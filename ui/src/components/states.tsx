import { errorMessage } from '../lib/api'

export function Loading({ what = 'Loading…' }: { what?: string }) {
  return (
    <div role="status" className="flex items-center gap-2 p-6 text-sm text-slate-500">
      <span className="h-4 w-4 animate-spin rounded-full border-2 border-slate-300 border-t-blue-500" />
      {what}
    </div>
  )
}

export function Empty({ children }: { children: React.ReactNode }) {
  return (
    <div data-testid="empty" className="p-8 text-center text-sm text-slate-500">
      {children}
    </div>
  )
}

export function ErrorState({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  return (
    <div role="alert" className="m-4 rounded-md border border-red-300 bg-red-50 p-4 text-sm text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200">
      <p className="font-medium">Could not load this.</p>
      <p className="mt-1">{errorMessage(error)}</p>
      {onRetry && (
        <button onClick={onRetry} className="mt-2 underline">
          Try again
        </button>
      )}
    </div>
  )
}
