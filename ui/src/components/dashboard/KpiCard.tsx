import type { ReactNode } from 'react'
import { Link } from 'react-router-dom'

const ACCENT = {
  blue: 'text-blue-600 dark:text-blue-400',
  green: 'text-green-600 dark:text-green-400',
  red: 'text-red-600 dark:text-red-400',
  amber: 'text-amber-600 dark:text-amber-400',
  slate: 'text-slate-900 dark:text-slate-100',
}

interface Props {
  id: string
  label: string
  value: ReactNode
  sub?: ReactNode
  accent?: keyof typeof ACCENT
  to?: string
  title?: string
}

export function KpiCard({ id, label, value, sub, accent = 'slate', to, title }: Props) {
  const body = (
    <>
      <div className="text-xs font-medium uppercase tracking-wide text-slate-500">{label}</div>
      <div className={`mt-1 text-2xl font-semibold tabular-nums ${ACCENT[accent]}`} data-testid="kpi-value">
        {value}
      </div>
      {sub && <div className="mt-1 text-xs text-slate-500">{sub}</div>}
    </>
  )
  const cls = 'card block min-w-0'
  return to ? (
    <Link to={to} title={title} className={`${cls} transition hover:border-blue-400 dark:hover:border-blue-600`} data-testid="kpi" data-kpi={id}>
      {body}
    </Link>
  ) : (
    <div className={cls} title={title} data-testid="kpi" data-kpi={id}>
      {body}
    </div>
  )
}
