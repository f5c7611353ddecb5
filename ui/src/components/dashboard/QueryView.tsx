import type { UseQueryResult } from '@tanstack/react-query'
import type { ReactNode } from 'react'
import { Empty, ErrorState, Loading } from '../states'

interface Props<T> {
  query: UseQueryResult<T>
  /** shown instead of `children` when `isEmpty(data)` */
  empty?: ReactNode
  isEmpty?: (data: T) => boolean
  loading?: string
  children: (data: T) => ReactNode
}

/** Loading, error (with retry) and empty states of one query, the same on every page. */
export function QueryView<T>({ query, empty, isEmpty, loading, children }: Props<T>) {
  if (query.isPending) return <Loading what={loading} />
  if (query.isError) return <ErrorState error={query.error} onRetry={() => void query.refetch()} />
  if (empty !== undefined && isEmpty?.(query.data)) return <Empty>{empty}</Empty>
  return <>{children(query.data)}</>
}

/** A titled card; `aside` sits at the right of the title. */
export function Card({
  title,
  aside,
  children,
  testId,
  className = '',
}: {
  title: ReactNode
  aside?: ReactNode
  children: ReactNode
  testId?: string
  className?: string
}) {
  return (
    <section className={`card ${className}`} data-testid={testId}>
      <div className="mb-3 flex flex-wrap items-center gap-2">
        <h2 className="text-sm font-semibold">{title}</h2>
        {aside && <div className="ml-auto flex items-center gap-2">{aside}</div>}
      </div>
      {children}
    </section>
  )
}

/** A row of mutually exclusive choices (ranges, filters). */
export function Segmented<T extends string>({
  value,
  options,
  onChange,
  label,
  testId,
}: {
  value: T
  options: readonly { value: T; label: string }[]
  onChange: (v: T) => void
  label: string
  testId?: string
}) {
  return (
    <div role="radiogroup" aria-label={label} data-testid={testId} className="inline-flex overflow-hidden rounded-md border border-slate-300 dark:border-slate-700">
      {options.map((o) => (
        <button
          key={o.value}
          role="radio"
          aria-checked={o.value === value}
          onClick={() => onChange(o.value)}
          className={`px-2.5 py-1 text-xs font-medium ${
            o.value === value
              ? 'bg-blue-600 text-white'
              : 'bg-white text-slate-700 hover:bg-slate-50 dark:bg-slate-900 dark:text-slate-300 dark:hover:bg-slate-800'
          }`}
        >
          {o.label}
        </button>
      ))}
    </div>
  )
}
